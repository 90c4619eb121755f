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

/**
 * The suite's default delivery profile: `ideal` unless STRIPE_DELIVERY_PROFILE=realistic. Realistic delivery (late,
 * some twice, close events in any order) is opted into per test and, for the whole suite, by that variable: the
 * hosted-page browser tests are not yet robust to it (see docs/testing.md).
 */
export function defaultDeliveryProfile(): 'ideal' | 'realistic' {
  return process.env.STRIPE_DELIVERY_PROFILE === 'realistic' ? 'realistic' : 'ideal';
}
