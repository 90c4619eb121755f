import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';

export interface Backoff {
  /** The wait before the first retry. */
  baseMs: number;
  /** No wait is longer (before jitter); default none. */
  maxMs?: number;
  /** Adds up to this fraction of the wait at random (0.5: up to 50 % more), so clients do not retry in step. Default 0. */
  jitter?: number;
  /** A number in [0, 1); default `Math.random`. */
  random?: () => number;
}

/** Past 2^30 the doubling only overflows: no wait that long is ever meant. */
const MAX_EXPONENT = 30;

/**
 * The one backoff: the wait before retry number `retry` (0 for the first) is `baseMs · 2^retry`, capped at `maxMs`,
 * plus up to `jitter` of it at random. Callers sleep it on their clock or write `clock.now() + delay` as a due time.
 */
export function backoffDelayMs(backoff: Backoff, retry: number): number {
  const exponent = Math.min(Math.max(Math.floor(retry), 0), MAX_EXPONENT);
  const delay = Math.min(backoff.maxMs ?? Number.POSITIVE_INFINITY, backoff.baseMs * 2 ** exponent);
  const jitter = backoff.jitter ?? 0;
  return jitter > 0 ? delay + (backoff.random ?? Math.random)() * delay * jitter : delay;
}

export interface RetryOptions {
  /** Retries after the first try. */
  retries: number;
  backoff: Backoff;
  /** Whether a failure is worth another try; others are thrown at once. */
  retryOn: (error: unknown) => boolean;
  /** Times the waits; default the system clock. */
  clock?: Clock;
}

/** Runs `work`, retrying a failure that `retryOn` accepts up to `retries` times, waiting the backoff on the clock. */
export async function withRetries<T>(work: () => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  for (let retry = 0; ; retry += 1) {
    try {
      return await work();
    } catch (error) {
      if (retry >= options.retries || !options.retryOn(error)) {
        throw error;
      }
      await clock.sleep(backoffDelayMs(options.backoff, retry));
    }
  }
}
