import type { Clock } from '../config/clock';
import type { AppConfig } from '../config/config';
import { RateLimiter, requestsPerSecondFor } from './rate-limiter';
import { createStripeClient } from './stripe-client';
import { StripeGateway } from './stripe-gateway';

/** Any `sk_test_` key is accepted by the local emulator; used when no key is configured. */
export const EMULATOR_SECRET_KEY = 'sk_test_local_emulator';

/**
 * The gateway the server uses: real Stripe with the configured key, or the local emulator at `STRIPE_API_BASE`.
 * The emulator has no rate limit of its own unless asked, so the client-side limit there is generous until the
 * emulator announces one.
 */
export function gatewayFromConfig(
  config: Pick<AppConfig, 'stripe'>,
  options: { maxNetworkRetries?: number; clock?: Clock } = {},
): StripeGateway {
  const stripe = createStripeClient({
    secretKey: config.stripe.secretKey ?? EMULATOR_SECRET_KEY,
    apiBase: config.stripe.apiBase,
    maxNetworkRetries: options.maxNetworkRetries ?? config.stripe.maxNetworkRetries,
  });
  // 80% of Stripe's budget, evenly spaced (burst 1): timer jitter must not push a strict one-second window over
  // the limit, and other clients of the account (dashboard, CLI) need headroom. A local Stripe announces the limit
  // it enforces, if any (`RateLimit-Policy`), and the limiter follows it from the first answer.
  const ceiling = config.stripe.maxRequestsPerSecond;
  const requestsPerSecond =
    ceiling ?? (config.stripe.mode === 'emulator' ? 500 : Math.floor(requestsPerSecondFor(config.stripe.mode) * 0.8));
  return new StripeGateway({
    stripe,
    limiter: new RateLimiter({
      requestsPerSecond,
      ceiling,
      clock: options.clock,
      awaitFirstAnswer: config.stripe.mode === 'emulator',
    }),
  });
}
