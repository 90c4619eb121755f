import type { Clock } from '../config/clock';

/** The longest delay a Node.js timer holds (2^31 − 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Sleeps on `clock` until its time reaches `at` (a token's exp): true then, false when `signal` aborted first. In
 * steps a timer can hold, so a token valid for a month does not expire at once. A background wait (`unref`).
 */
export async function sleepUntil(clock: Clock, at: number, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted && clock.now() < at) {
    await clock.sleep(Math.min(at - clock.now(), MAX_TIMER_MS), { signal, unref: true });
  }
  return !signal.aborted;
}

/** An async iterator whose `return` and `throw` are always there (what graphql-ws and graphql-sse call to end it). */
export type GuardedStream<T> = AsyncIterableIterator<T> & Required<Pick<AsyncIterator<T>, 'return' | 'throw'>>;

type Step<T> = IteratorResult<T, undefined> | { ending: true; value: T };

/**
 * A subscription's stream that runs `onEnd` once whenever it ends: drained, failed, returned by the transport (the
 * client completed it or the connection closed). With `ending`, the stream also ends when that promise resolves,
 * sending its value last (an SSE stream whose token expired). `return` reaches the source at once, even while a
 * `next` waits for an event (an async generator function would queue it behind that wait, and never release).
 */
export function guardStream<T>(
  source: AsyncIterable<T>,
  options: { onEnd: () => void; ending?: Promise<T> },
): GuardedStream<T> {
  const inner = source[Symbol.asyncIterator]();
  let finished = false;
  const finish = async (): Promise<void> => {
    if (!finished) {
      finished = true;
      options.onEnd();
      await inner.return?.();
    }
  };
  const ending = options.ending?.then((value): Step<T> => ({ ending: true, value }));
  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  const stream: GuardedStream<T> = {
    async next() {
      if (finished) {
        return done;
      }
      try {
        const step: Step<T> = ending ? await Promise.race([inner.next(), ending]) : await inner.next();
        if ('ending' in step) {
          await finish();
          return { done: false, value: step.value };
        }
        if (step.done) {
          await finish();
          return done;
        }
        return step;
      } catch (error) {
        await finish();
        throw error;
      }
    },
    async return() {
      await finish();
      return done;
    },
    async throw(error: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
