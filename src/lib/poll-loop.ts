import type { Clock } from '../config/clock';

export interface PollLoopOptions {
  /** Idle wait between rounds that found nothing more to do. */
  pollIntervalMs: number;
  /** Wait after a round threw (the database unreachable), so a dead database is not hammered. */
  errorDelayMs: number;
}

/**
 * The background loop every table-claiming worker runs (the Stripe webhook worker, the outgoing webhook worker):
 * run a round; go again at once while the round says more is due, else sleep the poll interval on the clock (unref:
 * an idle poll never keeps the process alive), or less when the round names a sooner time of its own (a retry it
 * scheduled); `wake()` cuts a sleep short (new work was stored here, or a NOTIFY said so); `stop()` waits for the
 * round in flight. A round that throws is reported and retried after `errorDelayMs`.
 */
export class PollLoop {
  private running = false;
  private loop?: Promise<void>;
  private woken = false;
  private wakeSleeper?: AbortController;

  constructor(
    private readonly clock: Clock,
    private readonly options: PollLoopOptions,
    /**
     * One round; resolves true when more work is due now, false when none is known, or the milliseconds until work it
     * knows of is due (slept if shorter than the poll interval; 0 goes again at once).
     */
    private readonly round: () => Promise<boolean | number>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * A loop that runs `check` once every `intervalMs` of the clock, counted from the start of each check (a check that
   * outlasted it is followed by the next at once); a check that throws is reported and the next runs an interval later.
   */
  static every(
    clock: Clock,
    intervalMs: number,
    check: () => Promise<unknown>,
    onError: (error: unknown) => void,
  ): PollLoop {
    return new PollLoop(
      clock,
      { pollIntervalMs: intervalMs, errorDelayMs: intervalMs },
      async () => {
        const started = clock.now();
        await check();
        return Math.max(0, started + intervalMs - clock.now());
      },
      onError,
    );
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.loop = this.run();
  }

  /** Stops polling and waits for the round in flight to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = undefined;
  }

  /** New work is waiting: skip the rest of the idle sleep. */
  wake(): void {
    this.woken = true;
    this.wakeSleeper?.abort();
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.woken = false;
      let more = false;
      let delay = this.options.pollIntervalMs;
      try {
        const result = await this.round();
        if (typeof result === 'number') {
          more = result <= 0;
          delay = Math.min(delay, Math.max(0, result));
        } else {
          more = result;
        }
      } catch (error) {
        this.onError(error);
        delay = this.options.errorDelayMs;
      }
      if (!this.running) {
        break;
      }
      if (!more) {
        await this.sleep(delay);
      }
    }
  }

  private async sleep(ms: number): Promise<void> {
    if (this.woken) {
      return;
    }
    const wakeUp = new AbortController();
    this.wakeSleeper = wakeUp;
    await this.clock.sleep(ms, { signal: wakeUp.signal, unref: true });
    this.wakeSleeper = undefined;
  }
}
