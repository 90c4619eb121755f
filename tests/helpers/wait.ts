import type { BillingServer } from '../../src/server';

/**
 * Guard of the tests' waits for a condition: only there to end a hang, so long that it never fires on a slow machine
 * (a wait ends as soon as its condition holds).
 */
export const WAIT_GUARD_MS = 20_000;

/**
 * Resolves once `done()` holds, checking it again each time `wake` is called by whatever `subscribe` hooks it to (an
 * event of the server, a frame from a socket). The guard timer only turns a hang into a clear failure: nothing here
 * waits on time for the condition itself.
 */
export function waitForEvent(
  what: string | (() => string),
  done: () => boolean,
  subscribe: (wake: () => void) => () => void,
  guardMs = WAIT_GUARD_MS,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let unsubscribe = (): void => undefined;
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`));
    }, guardMs);
    const check = (): void => {
      if (done()) {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    };
    unsubscribe = subscribe(check);
    check();
  });
}

/**
 * Resolves with `check()`'s value once it is truthy, checking it now and again each time `subscribe` wakes it: for
 * conditions read asynchronously (the database). Checks never overlap; a wake-up during a check runs one more. Same
 * guard as `waitForEvent`, only there to turn a hang into a clear failure.
 */
export function waitForValue<T>(
  what: string,
  check: () => Promise<T>,
  subscribe: (wake: () => void) => () => void,
): Promise<NonNullable<T>> {
  return new Promise((resolve, reject) => {
    let running = false;
    let again = false;
    let found: NonNullable<T> | undefined;
    let failure: Error | undefined;
    const wakeups = new Wakeups();
    const run = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          const value = await check();
          if (value) {
            found = value as NonNullable<T>;
          }
        } while (again && found === undefined);
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
      } finally {
        running = false;
        wakeups.wake();
      }
    };
    const unsubscribe = subscribe(() => void run());
    waitForEvent(what, () => found !== undefined || failure !== undefined, wakeups.subscribe).then(
      () => {
        unsubscribe();
        if (failure) {
          reject(failure);
        } else {
          resolve(found as NonNullable<T>);
        }
      },
      (error: unknown) => {
        unsubscribe();
        reject(error);
      },
    );
    void run();
  });
}

/** Listeners woken together, for `waitForEvent` to subscribe to when what is watched is the test's own (frames, sleeps). */
export class Wakeups {
  private readonly listeners = new Set<() => void>();

  /** Calls every listener subscribed now. */
  wake(): void {
    for (const listener of [...this.listeners]) {
      listener();
    }
  }

  /** Adds `listener`; returns its removal. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

/** Resolves once the server's count of open status feeds satisfies `done`, woken by each feed that opens or closes. */
export function waitForFeedCount(
  server: BillingServer,
  what: string,
  done: (count: number) => boolean,
  also: (wake: () => void) => () => void = () => () => undefined,
): Promise<void> {
  return waitForEvent(
    what,
    () => done(server.statusFeeds()),
    (wake) => {
      const off = server.onStatusFeedsChange(wake);
      const offAlso = also(wake);
      return () => {
        off();
        offAlso();
      };
    },
  );
}
