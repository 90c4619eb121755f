import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import type { StripeMode } from '../config/config';
import { TokenBucket } from '../lib/token-bucket';

export interface RateLimiterOptions {
  /** The pace before any answer says otherwise; also the most it ever goes to when `ceiling` is not given. */
  requestsPerSecond: number;
  /**
   * The most it paces at when following an announced limit (a setting, `STRIPE_MAX_REQUESTS_PER_SECOND`). Default:
   * no ceiling, the announced limit is followed whatever `requestsPerSecond` is.
   */
  ceiling?: number;
  /** Bucket capacity: calls allowed back to back after an idle period. Default 1 (evenly spaced calls). */
  burst?: number;
  /** Refills the bucket and paces the waits; default the system clock. */
  clock?: Clock;
  /**
   * One request at a time until the first answer (which may announce a limit far below `requestsPerSecond`: the
   * callers released at that pace meanwhile would all land in the server's first second). Default false.
   */
  awaitFirstAnswer?: boolean;
}

/** Stripe's documented limits: 25 requests/second in test mode, 100 in live mode. */
export function requestsPerSecondFor(mode: StripeMode): number {
  return mode === 'live' ? 100 : 25;
}

/**
 * Share of an announced limit the client paces at: under a strict one-second window the remaining 5 % absorb timer
 * jitter and event-loop stalls that bunch evenly spaced calls, and other clients of the account.
 */
export const ANNOUNCED_SHARE = 0.95;
/** After a 429: the pace is halved and nothing is sent for this long (Stripe's window is one second). */
export const BACK_OFF_PAUSE_MS = 1000;
/** After a back-off, the pace climbs back by this share of its target per second without a 429. */
export const RECOVERY_PER_SECOND = 0.25;

/**
 * `RateLimit-Policy: 25;w=1` (IETF httpapi-ratelimit-headers: quota, then the window in seconds), which the local
 * Stripe sends while it enforces a limit, as requests per second; null when absent or not understood. Real Stripe
 * announces nothing, so there the configured pace stands.
 */
export function announcedRequestsPerSecond(header: string | string[] | undefined | null): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) {
    return null;
  }
  const [quota, ...parameters] = value.split(';').map((part) => part.trim());
  const window = parameters.find((part) => part.startsWith('w='))?.slice(2) ?? '1';
  const perSecond = Number(quota) / Number(window);
  return /^\d+(\.\d+)?$/.test(quota) && perSecond > 0 && Number.isFinite(perSecond) ? perSecond : null;
}

/**
 * Client-side pacing in front of every Stripe call (one `TokenBucket`, `src/lib/token-bucket.ts`), so a billing run
 * does not trip Stripe's 429s (which the SDK retries only when Stripe sends `Stripe-Should-Retry: true`). Any window
 * of T seconds sees at most `burst + rate × T` acquisitions; concurrent callers are served in call order.
 *
 * The rate adapts: `follow` takes the limit the server announces (95 % of it, capped by `ceiling`), and `backOff`
 * (a 429) halves the pace and pauses for a second, after which it climbs back to its target by a quarter of it per
 * second. Limits one process only; instances behind a load balancer should split the account's budget.
 */
export class RateLimiter {
  readonly burst: number;
  private readonly bucket: TokenBucket;
  private readonly clock: Clock;
  private readonly ceiling: number;
  /** The pace it returns to after a back-off. */
  private target: number;
  private lastAdjust: number;
  private announced: number | null = null;
  private backOffs = 0;
  /** `awaitFirstAnswer`: the first answer's promise, and whether it came. */
  private firstAnswer: Promise<void> | null = null;
  private answered = false;
  private openGate: () => void = () => undefined;
  /** Times of the releases during the last second, once a limit is announced. */
  private released: number[] = [];

  constructor(options: RateLimiterOptions) {
    if (!(options.requestsPerSecond > 0) || !Number.isFinite(options.requestsPerSecond)) {
      throw new Error('requestsPerSecond must be a positive number');
    }
    const burst = options.burst ?? 1;
    if (!(burst >= 1) || !Number.isFinite(burst)) {
      throw new Error('burst must be at least 1');
    }
    if (options.ceiling !== undefined && !(options.ceiling > 0)) {
      throw new Error('ceiling must be a positive number');
    }
    this.burst = burst;
    this.answered = options.awaitFirstAnswer !== true;
    this.clock = options.clock ?? systemClock;
    this.ceiling = options.ceiling ?? Infinity;
    this.target = Math.min(options.requestsPerSecond, this.ceiling);
    this.lastAdjust = this.clock.now();
    this.bucket = new TokenBucket({ ratePerSecond: this.target, capacity: burst, clock: this.clock });
  }

  /** The pace now (requests per second). */
  get requestsPerSecond(): number {
    return this.bucket.ratePerSecond;
  }

  /** What the limiter knows: the pace now, the pace it returns to, the announced limit, the 429s it backed off. */
  get state(): { requestsPerSecond: number; target: number; announced: number | null; backOffs: number } {
    return {
      requestsPerSecond: this.requestsPerSecond,
      target: this.target,
      announced: this.announced,
      backOffs: this.backOffs,
    };
  }

  /**
   * Whether budget is going unused right now: a whole token is there and nobody is waiting for it, so the callers do
   * not keep up with the pace (a billing run adds workers while this holds). False before the first answer and
   * during a back-off.
   */
  get idle(): boolean {
    return this.answered && this.bucket.isFull();
  }

  /** Resolves when the caller may make one request. */
  acquire(): Promise<void> {
    if (!this.answered) {
      if (this.firstAnswer) {
        return this.firstAnswer.then(() => this.acquire());
      }
      this.firstAnswer = new Promise((resolve) => (this.openGate = resolve));
    }
    this.recover();
    const wait = this.bucket.take();
    return this.announced === null ? wait : wait.then(() => this.withinWindow());
  }

  /**
   * Against an announced limit, also at most `floor(pace)` releases in any second of real release time: evenly
   * spaced reservations that a stalled event loop releases late would otherwise leave together, more than the
   * server's one-second window holds.
   */
  private async withinWindow(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      while (this.released.length > 0 && this.released[0] <= now - 1000) {
        this.released.shift();
      }
      if (this.released.length < Math.max(1, Math.floor(this.bucket.ratePerSecond))) {
        this.released.push(now);
        return;
      }
      await this.clock.sleep(this.released[0] + 1000 - now);
    }
  }

  /**
   * An answer came back (or the request failed without one): `limit` is the limit it announced, if any. The first
   * one lets the callers held since the first request go.
   */
  answer(limit: number | null): void {
    if (limit !== null) {
      this.follow(limit);
    }
    if (!this.answered) {
      this.answered = true;
      this.openGate();
    }
  }

  /** The server announced its limit (requests per second): pace at 95 % of it, no more than the ceiling. */
  follow(limit: number): void {
    if (!(limit > 0) || !Number.isFinite(limit) || limit === this.announced) {
      return;
    }
    this.announced = limit;
    const before = this.target;
    this.target = Math.min(limit * ANNOUNCED_SHARE, this.ceiling);
    // A lower limit applies at once; a higher one after any back-off in progress has recovered.
    if (this.target < this.bucket.ratePerSecond || this.bucket.ratePerSecond === before) {
      this.bucket.setRate(this.target);
    }
  }

  /** The server answered 429: halve the pace, send nothing for a second, then climb back (`acquire`). */
  backOff(): void {
    this.backOffs += 1;
    this.bucket.setRate(Math.max(this.bucket.ratePerSecond / 2, this.target / 16));
    this.bucket.pause(BACK_OFF_PAUSE_MS);
    this.lastAdjust = this.clock.now() + BACK_OFF_PAUSE_MS;
  }

  private recover(): void {
    const rate = this.bucket.ratePerSecond;
    if (rate >= this.target) {
      return;
    }
    const now = this.clock.now();
    const seconds = (now - this.lastAdjust) / 1000;
    if (seconds <= 0) {
      return;
    }
    this.lastAdjust = now;
    this.bucket.setRate(Math.min(this.target, rate + this.target * RECOVERY_PER_SECOND * seconds));
  }
}
