import {
  SUPPORTED_CURRENCIES,
  chargeStepMinor,
  isSupportedCurrency,
  maximumChargeMinor,
  minimumChargeMinor,
} from '../src/config/currencies';
import { API_VERSION } from './context';
import { StripeApiError, paramInvalid } from './errors';
import { formatMoney } from './util';

/**
 * Stripe's limits and input checks, with Stripe's error shapes: currencies from the one currency table
 * (src/config/currencies.ts), e-mail addresses, the `Stripe-Version` header, and the minimum and maximum amounts.
 */

/** A currency Stripe charges in (lower case), or Stripe's 400 naming the currencies it supports. */
export function requireCurrency(value: string, param = 'currency'): string {
  const currency = value.toLowerCase();
  if (!isSupportedCurrency(currency)) {
    throw new StripeApiError(
      400,
      {
        type: 'invalid_request_error',
        message: `Invalid currency: ${currency}. Stripe currently supports these currencies: ${SUPPORTED_CURRENCIES.join(', ')}`,
        param,
      },
      true,
    );
  }
  return currency;
}

/** One address: a local part and a dotted domain, no spaces, at most 512 characters (Stripe's limit). */
const EMAIL = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;

/** Stripe's `email_invalid` for an address it would not store; '' (clearing the field) is left to the caller. */
export function checkEmail(email: string | null | undefined, param = 'email'): void {
  if (email === null || email === undefined || email === '') {
    return;
  }
  if (email.length > 512 || !EMAIL.test(email)) {
    throw paramInvalid(param, `Invalid email address: ${email}`, 'email_invalid');
  }
}

/**
 * The `Stripe-Version` header: absent (the account's default, the pinned version) or the version this local Stripe
 * speaks, optionally followed by beta flags (`; feature_beta=v1`). Any other is refused as Stripe refuses an invalid
 * one: the local Stripe answers in one version's shapes only, and a client that asked for another would read them
 * wrongly.
 */
export function checkApiVersion(header: string | undefined): void {
  if (header === undefined) {
    return;
  }
  const version = header.split(';')[0].trim();
  if (version === API_VERSION) {
    return;
  }
  const wellFormed = /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(version);
  throw new StripeApiError(
    400,
    {
      type: 'invalid_request_error',
      message: wellFormed
        ? `Invalid Stripe API version: ${header}. This local Stripe answers in ${API_VERSION} only, the version the installed stripe SDK pins.`
        : `Invalid Stripe API version: ${header}`,
    },
    true,
  );
}

/** `amount_too_large`: the amount is more than Stripe charges in one payment (8 digits: 999,999.99 USD). */
export function amountTooLarge(currency: string, param = 'amount'): StripeApiError {
  const max = Number(maximumChargeMinor(currency));
  return paramInvalid(param, `Amount must be no more than ${formatMoney(max, currency)}`, 'amount_too_large');
}

/** `amount_too_small`: the amount is below the currency's minimum charge (0.50 USD, 0.30 GBP, 50 JPY …). */
export function amountTooSmall(currency: string, param = 'amount'): StripeApiError {
  const min = Number(minimumChargeMinor(currency) ?? 0n);
  return paramInvalid(param, `Amount must be at least ${formatMoney(min, currency)} ${currency}`, 'amount_too_small');
}

/**
 * `invalid_charge_amount`: a card amount in a three-decimal currency (KWD, BHD, JOD, OMR, TND) whose last digit is not
 * 0. Stripe takes these amounts in payments and refunds but asks that they be rounded to the nearest ten for its
 * payment partners ("5.124 KWD must be rounded to 5120 or 5130", https://docs.stripe.com/currencies#three-decimal).
 */
export function checkChargeStep(amount: number, currency: string, param = 'amount'): void {
  if (!isSupportedCurrency(currency)) {
    return;
  }
  const step = chargeStepMinor(currency);
  if (step > 1n && BigInt(amount) % step !== 0n) {
    const down = BigInt(amount) - (BigInt(amount) % step);
    throw paramInvalid(
      param,
      `Invalid amount: ${amount}. Amounts in ${currency} must be divisible by ${step} (the last digit must be 0): round it to ${down} or ${down + step}. See https://stripe.com/docs/currencies#three-decimal for more information.`,
      'invalid_charge_amount',
    );
  }
}

/** An invoice item's amount: its size, either sign, may not pass what Stripe charges at most. */
export function checkItemAmount(amount: bigint, currency: string, param = 'amount'): void {
  const abs = amount < 0n ? -amount : amount;
  if (abs > maximumChargeMinor(currency)) {
    throw amountTooLarge(currency, param);
  }
}

/**
 * A payment of `amount`: refused below the currency's fixed minimum and above its maximum, and in a three-decimal
 * currency unless a multiple of 10, before anything is charged. Currencies whose minimum follows the exchange rate (the equivalent of 0.50 USD) have no minimum here.
 */
export function checkChargeAmount(amount: number, currency: string): void {
  if (!isSupportedCurrency(currency)) {
    return;
  }
  const value = BigInt(amount);
  if (value > maximumChargeMinor(currency)) {
    throw amountTooLarge(currency);
  }
  const min = minimumChargeMinor(currency);
  if (min !== null && value > 0n && value < min) {
    throw amountTooSmall(currency);
  }
  checkChargeStep(amount, currency);
}
