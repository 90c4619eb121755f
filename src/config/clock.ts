/** What a sleep can be told: stop early, or not hold the process open. */
export interface SleepOptions {
  /** Ends the sleep early; the promise then resolves (it never rejects), and the caller checks why it woke. */
  signal?: AbortSignal;
  /**
   * A background wait (an idle poll, a scheduler tick, a webhook retry) that must not by itself keep the process
   * alive. Never for a wait someone awaits to finish their work (a rate limiter's pacing, a retry inside a request or
   * a CLI run): on an in-process database nothing else holds the process open, and it would exit mid-wait.
   */
  unref?: boolean;
}

/**
 * The one source of time for everything that waits or compares times: rate limiters, schedulers, retry backoff,
 * timeouts, token expiry. Production uses `systemClock`; tests pass a clock they move by hand, so no test depends on
 * how fast the machine is (`tests/helpers/clock.ts`).
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves once `ms` milliseconds of this clock's time have passed (or when `options.signal` aborts). */
  sleep(ms: number, options?: SleepOptions): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, options = {}) {
    const { signal, unref = false } = options;
    if (signal?.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      if (unref) {
        timer.unref();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};
