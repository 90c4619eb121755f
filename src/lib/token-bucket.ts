import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';

export interface TokenBucketOptions {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Most tokens the bucket holds: calls allowed back to back after an idle period. It starts full. */
  capacity: number;
  /** Refills the bucket; default the system clock. */
  clock?: Clock;
}

/**
 * The one token bucket: `ratePerSecond` tokens a second, up to `capacity`, refilled from the injectable clock. It
 * serves both ways of being limited: a caller that waits its turn (`reserve`: the Stripe pacing) and a caller that
 * is refused (`tryTake`: the webhook route's per-IP limit). Any window of T seconds sees at most
 * `capacity + ratePerSecond × T` tokens taken. One process only.
 */
export class TokenBucket {
  private rate: number;
  readonly capacity: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond)) {
      throw new Error('ratePerSecond must be a positive number');
    }
    if (!(options.capacity >= 1) || !Number.isFinite(options.capacity)) {
      throw new Error('capacity must be at least 1');
    }
    this.rate = options.ratePerSecond;
    this.capacity = options.capacity;
    this.clock = options.clock ?? systemClock;
    this.tokens = options.capacity;
    this.last = this.clock.now();
  }

  /** Tokens added per second now. */
  get ratePerSecond(): number {
    return this.rate;
  }

  /** Changes the rate from now on; tokens already reserved keep the waits they were given. */
  setRate(ratePerSecond: number): void {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new Error('ratePerSecond must be a positive number');
    }
    this.refill();
    this.rate = ratePerSecond;
  }

  /** Gives out nothing for `ms` more than it would have: the next reservation waits that much longer. */
  pause(ms: number): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0) - (ms / 1000) * this.rate;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }

  /**
   * Reserves one token and returns the milliseconds until it is the caller's (0: now). Tokens may go negative: each
   * caller reserves its slot synchronously, so concurrent callers are served in call order without a queue.
   */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.ratePerSecond) * 1000;
  }

  /** Reserves one token and resolves when it is the caller's, sleeping on the clock. */
  take(): Promise<void> {
    const waitMs = this.reserve();
    return waitMs === 0 ? Promise.resolve() : this.clock.sleep(waitMs);
  }

  /** Takes one token if there is one now; otherwise takes nothing and returns false. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) {
      return false;
    }
    this.tokens -= 1;
    return true;
  }

  /** Seconds until a whole token is there (0 if one is now), without taking it. */
  secondsUntilToken(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.ratePerSecond;
  }

  /** Whether the bucket is full now: forgetting it changes nothing, a new one starts full. */
  isFull(): boolean {
    this.refill();
    return this.tokens >= this.capacity;
  }
}
