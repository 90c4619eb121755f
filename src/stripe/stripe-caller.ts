import type Stripe from 'stripe';
import type { RateLimiter } from './rate-limiter';
import { toGatewayError } from './stripe-errors';
import { inStripeSpan } from './stripe-tracing';

/** Runs SDK calls behind the rate limiter and turns SDK errors into `StripeGatewayError`. */
export class StripeCaller {
  constructor(
    private readonly stripe: Stripe,
    private readonly limiter: RateLimiter,
  ) {}

  /**
   * One SDK call. The SDK's own retries (5xx, 409, timeouts) reuse the idempotency key we passed. Traced as one span
   * (with `invoiceId`, our invoice's id, when the call is for one), the wait for the rate limiter included.
   */
  call<T>(request: (stripe: Stripe) => Promise<T>, invoiceId?: string): Promise<T> {
    return inStripeSpan(invoiceId, async () => {
      await this.limiter.acquire();
      try {
        return await request(this.stripe);
      } catch (error) {
        throw toGatewayError(error);
      }
    });
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
