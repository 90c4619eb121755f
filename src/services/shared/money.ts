/**
 * Money in integer minor units (docs/architecture.md, invariant 1). An amount is a `bigint` count of the currency's minor unit
 * (cents for USD, whole yen for JPY, fils for KWD) as Stripe charges it, so totals are exact sums and nothing is
 * rounded after a line is priced. Conversion from an exact `Decimal` rounds exactly once, half-up.
 */
import { currencyExponent } from '../../config/currencies';
import type { Decimal } from './decimal';
import { roundHalfUpToScale } from './decimal';

/** An amount of one currency in its minor unit; `currency` is the ISO 4217 code (lower case, as Stripe uses). */
export interface Money {
  amountMinor: bigint;
  currency: string;
}

/** Intl's types for ES2022 only admit number | bigint, but ES2023 (Node 20) formats numeric strings exactly. */
interface DecimalStringFormatter {
  format(value: string): string;
}

/**
 * Rounds an exact major-unit amount to the currency's minor unit, once, half away from zero
 * (2.469134 USD → 247n; 0.005 USD → 1n; 1499.5 JPY → 1500n). Throws RangeError for an unsupported currency.
 */
export function toMinorUnits(amount: Decimal, currency: string): bigint {
  return roundHalfUpToScale(amount, currencyExponent(currency));
}

/**
 * The exact major-unit amount as a plain decimal string with exactly the currency's digits
 * (2550n usd → "25.50", 1500n jpy → "1500", 1234n kwd → "1.234", -5n usd → "-0.05"); for APIs and Intl.
 */
export function minorToDecimalString(minor: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString();
  const sign = negative ? '-' : '';
  if (exponent === 0) {
    return sign + digits;
  }
  const padded = digits.padStart(exponent + 1, '0');
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/**
 * Localised display ("$25.50", "¥1,500", "KWD 1.234"). The decimal string goes to Intl as a string, so no amount is
 * ever converted to a float. Fraction digits are pinned to the currency's minor-unit exponent because Intl's own
 * defaults differ from Stripe's for a few currencies (ISK: Intl 0, Stripe 2) and would otherwise round on display.
 */
export function formatMoney(minor: bigint, currency: string, locale = 'en-US'): string {
  return formatterFor(locale, currency).format(minorToDecimalString(minor, currency));
}

/** `formatMoney` of an amount already written as `minorToDecimalString` wrote it (no second conversion). */
export function formatDecimalAmount(amount: string, currency: string, locale = 'en-US'): string {
  return formatterFor(locale, currency).format(amount);
}

/**
 * Building an Intl.NumberFormat costs about 40 times a `format` call, and a page of invoices formats hundreds of
 * amounts in a handful of currencies: one formatter per locale and currency, kept (locales and currencies come from
 * our own code and the currency table, never from a request, so the map stays small).
 */
const formatters = new Map<string, Map<string, DecimalStringFormatter>>();

/** Keyed by locale, then by the currency as given ("usd" and "USD" get one formatter each): no key to build. */
function formatterFor(locale: string, currency: string): DecimalStringFormatter {
  let byCurrency = formatters.get(locale);
  if (!byCurrency) {
    byCurrency = new Map();
    formatters.set(locale, byCurrency);
  }
  let formatter = byCurrency.get(currency);
  if (!formatter) {
    const exponent = currencyExponent(currency);
    formatter = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: currency.toUpperCase(),
      minimumFractionDigits: exponent,
      maximumFractionDigits: exponent,
    }) as unknown as DecimalStringFormatter;
    byCurrency.set(currency, formatter);
  }
  return formatter;
}

/** Exact sum of minor-unit amounts (an invoice total is the sum of its lines); 0n for none. */
export function sumMinor(amounts: readonly bigint[]): bigint {
  return amounts.reduce((total, amount) => total + amount, 0n);
}
