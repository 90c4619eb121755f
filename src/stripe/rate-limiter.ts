import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import type { StripeMode } from '../config/config';

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
 * Client-side token bucket in front of every Stripe call, so a billing run does not trip Stripe's 429s
 * (which the SDK retries only when Stripe sends `Stripe-Should-Retry: true`). Any window of T seconds
 * sees at most `burst + requestsPerSecond × T` acquisitions. Tokens may go negative: each caller reserves
 * its slot synchronously, so concurrent callers are served in call order without a queue.
 * Limits one process only; instances behind a load balancer should split the account's budget.
 */
export class RateLimiter {
  readonly requestsPerSecond: number;
  readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

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
    this.clock = options.clock ?? systemClock;
    this.tokens = burst;
    this.last = this.clock.now();
  }

  /** Resolves when the caller may make one request. */
  acquire(): Promise<void> {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.requestsPerSecond);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) {
      return Promise.resolve();
    }
    return this.clock.sleep((-this.tokens / this.requestsPerSecond) * 1000);
  }
}
