/**
 * Where the emulator's time comes from. The emulator is a separate program and imports nothing of the app, so it
 * declares the clock it accepts; the shape is the app's `Clock` (`src/config/clock.ts`), so one test clock drives
 * both (`tests/helpers/clock.ts`).
 */
export interface EmulatorClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves once `ms` of this clock's time have passed, or when `signal` aborts; `unref`: not holding the process. */
  sleep(ms: number, options?: { signal?: AbortSignal; unref?: boolean }): Promise<void>;
}

/** The system's time and timers: the default, outside tests. */
export const systemTime: EmulatorClock = {
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
