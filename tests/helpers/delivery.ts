import { randomInt } from 'node:crypto';

/** The seed of the realistic webhook delivery of every local Stripe in a test run (`STRIPE_DELIVERY_SEED`). */
export const DELIVERY_SEED_ENV = 'STRIPE_DELIVERY_SEED';

/**
 * The run's seed: given (`STRIPE_DELIVERY_SEED=… npm test` repeats a run's delays, duplicates and order), else drawn
 * once by the global setup, which prints it. A file run without the global setup (unit project) draws its own.
 */
export function deliverySeed(): number {
  process.env[DELIVERY_SEED_ENV] ??= String(randomInt(1, 2 ** 31));
  const seed = Number(process.env[DELIVERY_SEED_ENV]);
  if (!Number.isInteger(seed)) {
    throw new Error(`${DELIVERY_SEED_ENV} must be an integer, got "${process.env[DELIVERY_SEED_ENV]}"`);
  }
  return seed;
}

/** A jest project's own default (`globals.STRIPE_DELIVERY_DEFAULT` in jest.config.js): the e2e project's is realistic. */
declare const STRIPE_DELIVERY_DEFAULT: string | undefined;

/**
 * The default delivery profile of a test file's local Stripes: STRIPE_DELIVERY_PROFILE when set (`ideal` or
 * `realistic`, for the whole run), else its jest project's default: `realistic` (late, some twice, close events in any
 * order, as Stripe delivers) for the e2e project, whose tests wait for what a user sees; `ideal` for the integration
 * project, whose tests may count deliveries. A test that needs exact delivery asks for it (`{ delivery: 'ideal' }`).
 */
export function defaultDeliveryProfile(): 'ideal' | 'realistic' {
  const chosen =
    process.env.STRIPE_DELIVERY_PROFILE ??
    (typeof STRIPE_DELIVERY_DEFAULT === 'string' ? STRIPE_DELIVERY_DEFAULT : undefined);
  return chosen === 'realistic' ? 'realistic' : 'ideal';
}
