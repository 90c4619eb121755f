import type Stripe from 'stripe';
import type { RateLimiter } from './rate-limiter';
import { announcedRequestsPerSecond } from './rate-limiter';
import { isStripeError, toGatewayError } from './stripe-errors';
import { inStripeSpan } from './stripe-tracing';

type Headers = Record<string, string | string[] | undefined>;

/** The `RateLimit-Policy` header of an SDK result (`lastResponse`) or error, when the server sent one. */
function policyHeader(headers: Headers | undefined): string | string[] | undefined {
  return headers?.['ratelimit-policy'];
}

/** Runs SDK calls behind the rate limiter and turns SDK errors into `StripeGatewayError`. */
export class StripeCaller {
  constructor(
    private readonly stripe: Stripe,
    private readonly limiter: RateLimiter,
  ) {}

  /** Whether the rate limiter's budget is going unused right now (`RateLimiter.idle`). */
  get idle(): boolean {
    return this.limiter.idle;
  }

  /** The limiter's pace now (requests per second). */
  get requestsPerSecond(): number {
    return this.limiter.requestsPerSecond;
  }

  /**
   * One SDK call. The SDK's own retries (5xx, 409, timeouts) reuse the idempotency key we passed. Traced as one span
   * (with `invoiceId`, our invoice's id, when the call is for one), the wait for the rate limiter included. The
   * limiter follows the limit an answer announces and backs off on a rate limit's 429. A lock timeout's 429 (the
   * SDK retried it, as `Stripe-Should-Retry: true` asks, until its retries ran out) maps to `rate_limited` too: the
   * request did not run, and may be repeated later with its key.
   */
  call<T>(request: (stripe: Stripe) => Promise<T>, invoiceId?: string): Promise<T> {
    return inStripeSpan(invoiceId, async () => {
      await this.limiter.acquire();
      try {
        const result = await request(this.stripe);
        this.heed((result as { lastResponse?: { headers?: Headers } } | null)?.lastResponse?.headers);
        return result;
      } catch (error) {
        this.heed(isStripeError(error) ? (error.headers as Headers | undefined) : undefined);
        // A lock timeout (429 `lock_timeout`: another write held the object) says nothing of the request rate.
        if (isStripeError(error) && error.statusCode === 429 && error.code !== 'lock_timeout') {
          this.limiter.backOff();
        }
        throw toGatewayError(error);
      }
    });
  }

  private heed(headers: Headers | undefined): void {
    this.limiter.answer(announcedRequestsPerSecond(policyHeader(headers)));
  }

  /**
   * Walks a Stripe list (newest first) or search result page by page. Paging by hand rather than with the SDK's
   * auto-pagination puts every page request through the limiter. `next` gives the cursor of the following page
   * (lists: the last id, passed as `starting_after`; searches: `next_page`, passed as `page`).
   */
  async *listAll<L extends { data: Array<{ id: string }>; has_more: boolean }>(
    page: (stripe: Stripe, cursor: string | undefined) => Promise<L>,
    next: (list: L) => string | undefined | null = (list) => list.data[list.data.length - 1]?.id,
  ): AsyncGenerator<L['data'][number]> {
    let cursor: string | undefined;
    for (;;) {
      const list = await this.call((stripe) => page(stripe, cursor));
      yield* list.data;
      const following = list.has_more && list.data.length > 0 ? next(list) : undefined;
      if (!following) {
        return;
      }
      cursor = following;
    }
  }
}
