import type { Clock, SleepOptions } from '../../src/config/clock';
import { systemClock } from '../../src/config/clock';
import { WAIT_GUARD_MS, Wakeups, waitForEvent } from './wait';

interface Sleeper {
  due: number;
  resolve: () => void;
}

export { WAIT_GUARD_MS };

/**
 * A clock that moves only when the test moves it. Whatever sleeps on it (a rate limiter's pacing, a worker's poll, a
 * scheduler's tick, a retry's backoff) wakes when `advance`/`set` passes its due time, whatever the real time: a test
 * decides what time it is and waits for the code to be asleep again (`whenSleeping`) instead of for a duration.
 */
export class ManualClock implements Clock {
  private time: number;
  private sleepers: Sleeper[] = [];
  private readonly changes = new Wakeups();

  constructor(start: Date | number = Date.now()) {
    this.time = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, options: SleepOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        due: this.time + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        },
      };
      const abort = (): void => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        sleeper.resolve();
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.sleepers.push(sleeper);
      this.notify();
    });
  }

  /** Sleeps not yet over. */
  get pending(): number {
    return this.sleepers.length;
  }

  /** When the earliest sleep is due, if anything sleeps. */
  nextDue(): number | undefined {
    return this.sleepers.length ? Math.min(...this.sleepers.map((s) => s.due)) : undefined;
  }

  /** Moves time forward and wakes every sleep that is due by then, earliest first. */
  advance(ms: number): void {
    if (!(ms >= 0)) {
      throw new Error('a clock only moves forward');
    }
    this.set(this.time + ms);
  }

  /** Moves time forward to `to`. */
  set(to: Date | number): void {
    const target = typeof to === 'number' ? to : to.getTime();
    if (target < this.time) {
      throw new Error('a clock only moves forward');
    }
    this.time = target;
    const due = this.sleepers.filter((s) => s.due <= target).sort((a, b) => a.due - b.due);
    this.sleepers = this.sleepers.filter((s) => s.due > target);
    for (const sleeper of due) {
      sleeper.resolve();
    }
  }

  /** Moves time to the earliest sleep's due time (waking it); false when nothing sleeps. */
  advanceToNext(): boolean {
    const next = this.nextDue();
    if (next === undefined) {
      return false;
    }
    this.set(Math.max(next, this.time));
    return true;
  }

  /** Resolves once at least `count` sleeps are pending: whatever runs on this clock is waiting for time to pass. */
  whenSleeping(count = 1, timeoutMs = WAIT_GUARD_MS): Promise<void> {
    return this.until(() => this.sleepers.length >= count, timeoutMs, `${count} sleep(s) on the clock`);
  }

  /**
   * Settles `work` while moving time: each time something sleeps, time jumps to the earliest due sleep. For work
   * whose waits must happen (retries, backoff, a claim raced by a sibling) but need not take real time.
   * - `upToMs`: only waits ending within that much of the current time are cut short; longer ones (the next
   *   scheduled tick) stay for the test to reach.
   * - `ready`: time moves only while it holds, e.g. "no request on the wire", so a request released at some time
   *   reaches its server at that time. Call `poke()` when what it reads changes. Before each step the event loop
   *   turns once, so whatever the previous step woke has reached the point `ready` watches.
   */
  async runUntilSettled<T>(work: Promise<T>, options: { upToMs?: number; ready?: () => boolean } = {}): Promise<T> {
    const upTo = options.upToMs ?? Infinity;
    const ready = options.ready ?? (() => true);
    let settled = false;
    const result = work.finally(() => {
      settled = true;
      this.notify();
    });
    const nextStep = (): number | undefined => {
      const next = this.nextDue();
      return next !== undefined && next - this.time <= upTo && ready() ? next : undefined;
    };
    while (!settled) {
      // The work may run a while before it waits again (a billing run): a longer guard.
      await this.until(() => settled || nextStep() !== undefined, 3 * WAIT_GUARD_MS, 'the work to wait or settle');
      if (options.ready) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const next = nextStep();
      if (!settled && next !== undefined) {
        this.set(Math.max(next, this.time));
      }
    }
    return result;
  }

  /** Something a `runUntilSettled` condition reads has changed: look again. */
  poke(): void {
    this.notify();
  }

  private notify(): void {
    this.changes.wake();
  }

  private until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return waitForEvent(`${what} (${timeoutMs} ms)`, done, this.changes.subscribe, timeoutMs);
  }
}

/** The system clock as if started at `start`: real waits, business dates of the test's choosing. */
export function clockStartingAt(start: Date): Clock {
  const offset = start.getTime() - Date.now();
  return { now: () => Date.now() + offset, sleep: (ms, options) => systemClock.sleep(ms, options) };
}
