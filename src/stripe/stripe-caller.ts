import type Stripe from 'stripe';
import type { RateLimiter } from './rate-limiter';
import { toGatewayError } from './stripe-errors';

/** Runs SDK calls behind the rate limiter and turns SDK errors into `StripeGatewayError`. */
export class StripeCaller {
  constructor(
    private readonly stripe: Stripe,
    private readonly limiter: RateLimiter,
  ) {}

  /** One SDK call. The SDK's own retries (5xx, 409, timeouts) reuse the idempotency key we passed. */
  async call<T>(request: (stripe: Stripe) => Promise<T>): Promise<T> {
    await this.limiter.acquire();
    try {
      return await request(this.stripe);
    } catch (error) {
      throw toGatewayError(error);
    }
  }

  /**
   * Walks a Stripe list (newest first) page by page. Paging by hand rather than with the SDK's
   * auto-pagination puts every page request through the limiter.
   */
  async *listAll<T extends { id: string }>(
    page: (stripe: Stripe, startingAfter: string | undefined) => Promise<Stripe.ApiList<T>>,
  ): AsyncGenerator<T> {
    let startingAfter: string | undefined;
    for (;;) {
      const list = await this.call((stripe) => page(stripe, startingAfter));
      yield* list.data;
      if (!list.has_more || list.data.length === 0) {
        return;
      }
      startingAfter = list.data[list.data.length - 1].id;
    }
  }
}
