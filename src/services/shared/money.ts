/**
 * Money in integer minor units (docs/architecture.md, invariant 1). An amount is a `bigint` count of the currency's minor unit
 * (cents for USD, whole yen for JPY, fils for KWD) as Stripe charges it, so totals are exact sums and nothing is
 * rounded after a line is priced. Conversion from an exact `Decimal` rounds exactly once, half-up.
 */
import { chargeStepMinor, currencyExponent } from '../../config/currencies';
import type { Decimal } from './decimal';
import { roundHalfUpToScale } from './decimal';

/** An amount of one currency in its minor unit; `currency` is the ISO 4217 code (lower case, as Stripe uses). */
export interface Money {
  amountMinor: bigint;
  currency: string;
}

/**
 * Rounds an exact major-unit amount to the currency's minor unit, once, half away from zero
 * (2.469134 USD → 247n; 0.005 USD → 1n; 1499.5 JPY → 1500n). Throws RangeError for an unsupported currency.
 */
export function toMinorUnits(amount: Decimal, currency: string): bigint {
  return roundHalfUpToScale(amount, currencyExponent(currency));
}

/**
 * Rounds an exact major-unit amount, once, half away from zero, to an amount Stripe can charge by card: the minor unit,
 * or in the three-decimal currencies (KWD, BHD, JOD, OMR, TND) 10 of it, since Stripe refuses a card amount whose last
 * digit is not 0 (1.851 KWD → 1850n; 0.005 KWD → 10n; 2.469134 USD → 247n). What a priced line is rounded to.
 */
export function toChargeableMinorUnits(amount: Decimal, currency: string): bigint {
  const step = chargeStepMinor(currency);
  if (step === 1n) {
    return toMinorUnits(amount, currency);
  }
  const stepDigits = step.toString().length - 1;
  return roundHalfUpToScale(amount, currencyExponent(currency) - stepDigits) * step;
}

// Writing an amount belongs to the currency table, which the local Stripe shares (src/config/currencies.ts).
export { formatDecimalAmount, formatMoney, minorToDecimalString } from '../../config/currencies';

/** Exact sum of minor-unit amounts (an invoice total is the sum of its lines); 0n for none. */
export function sumMinor(amounts: readonly bigint[]): bigint {
  return amounts.reduce((total, amount) => total + amount, 0n);
}
