import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import { TokenBucket } from '../lib/token-bucket';
import { sendJson } from './respond';
import { errorBody } from '../http/http-errors';

export interface IpRateLimitOptions {
  /** Sustained requests per second per client IP; 0 turns the limit off. */
  perSecond: number;
  /** Requests a client may send back to back. */
  burst: number;
  /** The client's address (Express's `req.ip` rules for the configured TRUST_PROXY). */
  clientIp: (req: IncomingMessage) => string;
  /** Refills the buckets; default the system clock. */
  clock?: Clock;
}

/**
 * A per-IP token bucket (`src/lib/token-bucket.ts`) for the webhook route, answered the way Stripe expects of a busy endpoint: 429 with
 * `Retry-After`, which Stripe treats like any failure and retries later with backoff, so nothing is lost. The
 * defaults (100/s, bursts of 500) sit far above what Stripe sends one endpoint, yet stop a flood of junk from
 * one address before it reaches signature checks and the database. Buckets live in this process only.
 *
 * Returns a check that answers 429 itself and returns false when the client is over its budget.
 */
export function ipRateLimit(options: IpRateLimitOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  if (options.perSecond <= 0) {
    return () => true;
  }
  const clock = options.clock ?? systemClock;
  const buckets = new Map<string, TokenBucket>();
  let lastSweep = 0;
  return (req, res) => {
    const ip = options.clientIp(req);
    const at = clock.now();
    if (buckets.size > 10_000 && at - lastSweep >= 1000) {
      // Forget clients whose bucket has refilled (they would start again with a full bucket anyway), at most once a
      // second: during a flood from many addresses the sweep must not run on every request.
      lastSweep = at;
      for (const [key, bucket] of buckets) {
        if (bucket.isFull()) {
          buckets.delete(key);
        }
      }
    }
    let bucket = buckets.get(ip);
    if (!bucket) {
      bucket = new TokenBucket({ ratePerSecond: options.perSecond, capacity: options.burst, clock });
      buckets.set(ip, bucket);
    }
    if (!bucket.tryTake()) {
      const retryAfter = Math.max(1, Math.ceil(bucket.secondsUntilToken()));
      sendJson(res, 429, errorBody('rate_limited', `Too many requests; retry in ${retryAfter} s`), {
        'retry-after': String(retryAfter),
      });
      return false;
    }
    return true;
  };
}
