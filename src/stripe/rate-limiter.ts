import type { Clock } from '../config/clock';
import type { StripeMode } from '../config/config';
import { TokenBucket } from '../lib/token-bucket';

export interface RateLimiterOptions {
  requestsPerSecond: number;
  /** Bucket capacity: calls allowed back to back after an idle period. Default 1 (evenly spaced calls). */
  burst?: number;
  /** Refills the bucket and paces the waits; default the system clock. */
  clock?: Clock;
}

/** Stripe's documented limits: 25 requests/second in test mode, 100 in live mode. */
export function requestsPerSecondFor(mode: StripeMode): number {
  return mode === 'live' ? 100 : 25;
}

/**
 * Client-side pacing in front of every Stripe call (one `TokenBucket`, `src/lib/token-bucket.ts`), so a billing run
 * does not trip Stripe's 429s (which the SDK retries only when Stripe sends `Stripe-Should-Retry: true`). Any window
 * of T seconds sees at most `burst + requestsPerSecond × T` acquisitions; concurrent callers are served in call
 * order. Limits one process only; instances behind a load balancer should split the account's budget.
 */
export class RateLimiter {
  readonly requestsPerSecond: number;
  readonly burst: number;
  private readonly bucket: TokenBucket;

  constructor(options: RateLimiterOptions) {
    if (!(options.requestsPerSecond > 0) || !Number.isFinite(options.requestsPerSecond)) {
      throw new Error('requestsPerSecond must be a positive number');
    }
    const burst = options.burst ?? 1;
    if (!(burst >= 1) || !Number.isFinite(burst)) {
      throw new Error('burst must be at least 1');
    }
    this.requestsPerSecond = options.requestsPerSecond;
    this.burst = burst;
    this.bucket = new TokenBucket({ ratePerSecond: options.requestsPerSecond, capacity: burst, clock: options.clock });
  }

  /** Resolves when the caller may make one request. */
  acquire(): Promise<void> {
    return this.bucket.take();
  }
}
