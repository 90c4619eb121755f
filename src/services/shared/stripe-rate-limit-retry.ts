import type { Clock } from '../../config/clock';
import { systemClock } from '../../config/clock';
import { withRetries } from '../../lib/backoff';
import type { StripeGateway } from '../../stripe';
import { failedWith } from '../../stripe';

export interface RateLimitRetryOptions {
  /** Retries of one call answered 429; default 5. */
  retries?: number;
  /** First wait; doubles per retry, plus up to 50% jitter. Default 250 ms. */
  baseDelayMs?: number;
  /** Times the waits; default the system clock. */
  clock?: Clock;
}

/**
 * The gateway, with every call that Stripe answers 429 (`rate_limited`) retried after the one backoff
 * (`src/lib/backoff.ts`). The SDK retries a 429 only when `Stripe-Should-Retry: true` says so, and a client-side
 * token bucket at exactly the account's limit still lets an occasional request over a strict one-second window
 * (timer jitter, event-loop stalls). A 429 means the request was not processed, and every write carries a
 * deterministic idempotency key, so repeating it is safe. Other failures pass through unchanged.
 */
export function retryRateLimited(gateway: StripeGateway, options: RateLimitRetryOptions = {}): StripeGateway {
  const retries = options.retries ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 250;
  const clock = options.clock ?? systemClock;
  return new Proxy(gateway, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') {
        return value;
      }
      return (...args: unknown[]): Promise<unknown> =>
        withRetries(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args), {
          retries,
          // Up to 50 % jitter, so callers that were refused together do not come back together.
          backoff: { baseMs: baseDelayMs, jitter: 0.5 },
          retryOn: (error) => failedWith(error, 'rate_limited'),
          clock,
        });
    },
  });
}
