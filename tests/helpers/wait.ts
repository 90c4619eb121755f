import type { BillingServer } from '../../src/server';
import { WAIT_GUARD_MS } from './clock';

/**
 * Resolves once `done()` holds, checking it again each time `wake` is called by whatever `subscribe` hooks it to (an
 * event of the server, a frame from a socket). The guard timer only turns a hang into a clear failure: nothing here
 * waits on time for the condition itself.
 */
export function waitForEvent(
  what: string,
  done: () => boolean,
  subscribe: (wake: () => void) => () => void,
  guardMs = WAIT_GUARD_MS,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let unsubscribe = (): void => undefined;
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for ${what}`));
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
