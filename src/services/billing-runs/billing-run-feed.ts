import type { Clock } from '../../config/clock';
import { systemClock } from '../../config/clock';
import type { Logger } from '../../config/logger';
import { ChannelListener } from '../../entities/channel-listener';
import type { Database } from '../../entities/orm';
import type { Backoff } from '../../lib/backoff';
import { backoffDelayMs } from '../../lib/backoff';
import { BILLING_RUN_CHANNEL } from './billing-run-store';
import { getBillingRun } from './get-billing-run.service';
import type { BillingRunProgress } from './get-billing-run.service';

/** The LISTEN connection's reconnect, and the retry of a failed read: 250 ms doubling to 30 s, with jitter. */
export const BILLING_RUN_FEED_BACKOFF: Backoff = { baseMs: 250, maxMs: 30_000, jitter: 0.2 };

/**
 * One subscriber's stream of a run's progress. It holds at most one snapshot not yet taken: a newer one replaces it,
 * since each snapshot is the whole progress (a slow client skips to the newest, never falls behind).
 */
export class BillingRunWatch implements AsyncIterableIterator<BillingRunProgress> {
  private pending: BillingRunProgress | undefined;
  private wake: (() => void) | undefined;
  private done = false;

  constructor(private readonly detach: (watch: BillingRunWatch) => void) {}

  push(progress: BillingRunProgress): void {
    if (!this.done) {
      this.pending = progress;
      this.wake?.();
    }
  }

  async next(): Promise<IteratorResult<BillingRunProgress>> {
    while (!this.done && !this.pending) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    const value = this.pending;
    this.pending = undefined;
    return this.done || !value ? { value: undefined, done: true } : { value, done: false };
  }

  async return(): Promise<IteratorResult<BillingRunProgress>> {
    this.close();
    return { value: undefined, done: true };
  }

  close(): void {
    if (!this.done) {
      this.done = true;
      this.detach(this);
      this.wake?.();
    }
  }

  [Symbol.asyncIterator](): BillingRunWatch {
    return this;
  }
}

interface PeriodState {
  watchers: Set<BillingRunWatch>;
  /** The snapshot last delivered, handed at once to a watcher that joins. */
  last?: BillingRunProgress;
  lastKey?: string;
  /** The read in flight; `again` asks it to read once more when it ends (a change arrived meanwhile). */
  reading?: Promise<void>;
  again: boolean;
}

/** What a snapshot shows, without the heartbeat (which every refresh beats): an unchanged one is not sent again. */
function shownKey(run: BillingRunProgress): string {
  return JSON.stringify({ ...run, heartbeatAt: undefined });
}

/**
 * Live progress of billing runs for subscribers (`billingRunProgressed`). Every statement that changes a run's
 * progress NOTIFYs `billing_run_progress` with its period (`billing-run-store.ts`), whichever instance, scheduler or
 * CLI runs it; each instance LISTENs (from its first subscriber on) and, per period somebody watches, reads the
 * progress once and hands the same snapshot to all of them. Reads of a period never overlap: changes that arrive
 * during one are covered by one more read after it, so a run of 10,000 customers costs a read per batch at most.
 *
 * Never silent: a subscriber gets the current progress when it subscribes (LISTEN is on before that read), and when
 * the LISTEN connection drops, the feed reconnects with backoff and reads every watched period again.
 */
export class BillingRunFeed {
  private readonly periods = new Map<string, PeriodState>();
  private readonly countListeners = new Set<() => void>();
  private readonly stopping = new AbortController();
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private listening: Promise<void> | undefined;
  private readonly listener: ChannelListener;
  private watchers = 0;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    options: { clock?: Clock; backoff?: Backoff } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? BILLING_RUN_FEED_BACKOFF;
    this.listener = new ChannelListener(db, {
      channel: BILLING_RUN_CHANNEL,
      name: 'billing run',
      onNotification: (periodKey) => this.onNotification(periodKey),
      // Progress made while nobody listened: every watched period is read again.
      onBack: () => {
        for (const periodKey of this.periods.keys()) {
          void this.refreshInBackground(periodKey);
        }
      },
      clock: this.clock,
      backoff: this.backoff,
      log,
    });
  }

  /** Subscribers open now on this instance. */
  get watcherCount(): number {
    return this.watchers;
  }

  /** Calls `listener` whenever a subscriber comes or goes; returns its removal. */
  onWatcherCountChange(listener: () => void): () => void {
    this.countListeners.add(listener);
    return () => this.countListeners.delete(listener);
  }

  /**
   * A stream of the period's run progress: first the progress now (nothing while the period has no run: its first
   * snapshot comes when a run starts), then each change. Fails when the first read fails.
   */
  async watch(periodKey: string): Promise<BillingRunWatch> {
    if (this.stopping.signal.aborted) {
      throw new Error('The billing run feed is stopped');
    }
    await this.listen();
    let state = this.periods.get(periodKey);
    if (!state) {
      state = { watchers: new Set(), again: false };
      this.periods.set(periodKey, state);
    }
    const own = state;
    const watch = new BillingRunWatch((closed) => {
      if (own.watchers.delete(closed)) {
        this.watchers -= 1;
        if (own.watchers.size === 0 && this.periods.get(periodKey) === own) {
          this.periods.delete(periodKey);
        }
        this.countListeners.forEach((listener) => listener());
      }
    });
    own.watchers.add(watch);
    this.watchers += 1;
    if (own.last) {
      watch.push(own.last);
    }
    try {
      await this.refresh(periodKey);
    } catch (error) {
      watch.close();
      throw error;
    }
    this.countListeners.forEach((listener) => listener());
    return watch;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const state of [...this.periods.values()]) {
      state.watchers.forEach((watch) => watch.close());
    }
    await this.listener.stop();
  }

  /** Reads the period's progress and delivers it if it changed; joins (and extends) a read in flight. */
  private refresh(periodKey: string): Promise<void> {
    const state = this.periods.get(periodKey);
    if (!state) {
      return Promise.resolve();
    }
    if (state.reading) {
      state.again = true;
      return state.reading;
    }
    const reading = (async () => {
      try {
        do {
          state.again = false;
          const run = await getBillingRun(this.db.orm.em.fork(), periodKey);
          if (run) {
            this.deliver(state, run);
          }
        } while (state.again && this.periods.get(periodKey) === state);
      } finally {
        state.reading = undefined;
      }
    })();
    state.reading = reading;
    return reading;
  }

  /** A refresh after a notification or a reconnect: a failed read is retried with backoff while someone watches. */
  private async refreshInBackground(periodKey: string): Promise<void> {
    for (let attempt = 0; !this.stopping.signal.aborted && this.periods.has(periodKey); attempt += 1) {
      try {
        await this.refresh(periodKey);
        return;
      } catch (error) {
        this.log.warn({ err: error, period: periodKey, attempt }, 'billing run progress read failed: retrying');
        await this.clock.sleep(backoffDelayMs(this.backoff, attempt), { signal: this.stopping.signal, unref: true });
      }
    }
  }

  private deliver(state: PeriodState, run: BillingRunProgress): void {
    const key = shownKey(run);
    if (key === state.lastKey) {
      return;
    }
    state.last = run;
    state.lastKey = key;
    // The same object to every watcher: the subscription's result is then computed once for all of them.
    state.watchers.forEach((watch) => watch.push(run));
  }

  private onNotification(periodKey: string): void {
    if (this.periods.has(periodKey)) {
      void this.refreshInBackground(periodKey);
    }
  }

  /** LISTEN once, from the first subscriber on. */
  private listen(): Promise<void> {
    this.listening ??= this.listener.start().catch((error: unknown) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }
}
