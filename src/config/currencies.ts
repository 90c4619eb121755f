/**
 * The one currency table of the project, used by the server and by the local Stripe (emulator/): ISO 4217 currencies
 * Stripe accepts for charges, their minor-unit exponent as Stripe applies it, Stripe's charge limits, and the
 * writing of an amount. Zero-decimal list: https://docs.stripe.com/currencies#zero-decimal. Stripe's three-decimal
 * currencies (BHD, JOD, KWD, OMR, TND) are charged in their minor unit (exponent 3).
 *
 * This file imports nothing: the emulator, a separate program, may import it and nothing else of src/
 * (.dependency-cruiser.cjs, `the-emulator-is-a-separate-program` and `the-currency-table-stands-alone`).
 */
const ZERO_DECIMAL = [
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
] as const;
const THREE_DECIMAL = ['bhd', 'jod', 'kwd', 'omr', 'tnd'] as const;
const TWO_DECIMAL = [
  'usd',
  'aed',
  'afn',
  'all',
  'amd',
  'ang',
  'aoa',
  'ars',
  'aud',
  'awg',
  'azn',
  'bam',
  'bbd',
  'bdt',
  'bgn',
  'bmd',
  'bnd',
  'bob',
  'brl',
  'bsd',
  'bwp',
  'byn',
  'bzd',
  'cad',
  'cdf',
  'chf',
  'cny',
  'cop',
  'crc',
  'cve',
  'czk',
  'dkk',
  'dop',
  'dzd',
  'egp',
  'etb',
  'eur',
  'fjd',
  'fkp',
  'gbp',
  'gel',
  'gip',
  'gmd',
  'gtq',
  'gyd',
  'hkd',
  'hnl',
  'htg',
  'huf',
  'idr',
  'ils',
  'inr',
  'isk',
  'jmd',
  'kes',
  'kgs',
  'khr',
  'kyd',
  'kzt',
  'lak',
  'lbp',
  'lkr',
  'lrd',
  'lsl',
  'mad',
  'mdl',
  'mkd',
  'mmk',
  'mnt',
  'mop',
  'mur',
  'mvr',
  'mwk',
  'mxn',
  'myr',
  'mzn',
  'nad',
  'ngn',
  'nio',
  'nok',
  'npr',
  'nzd',
  'pab',
  'pen',
  'pgk',
  'php',
  'pkr',
  'pln',
  'qar',
  'ron',
  'rsd',
  'rub',
  'sar',
  'sbd',
  'scr',
  'sek',
  'sgd',
  'shp',
  'sle',
  'sos',
  'srd',
  'std',
  'szl',
  'thb',
  'tjs',
  'top',
  'try',
  'ttd',
  'twd',
  'tzs',
  'uah',
  'uyu',
  'uzs',
  'wst',
  'xcd',
  'yer',
  'zar',
  'zmw',
] as const;

export type CurrencyCode = string;

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...ZERO_DECIMAL.map((c) => [c, 0] as const),
  ...TWO_DECIMAL.map((c) => [c, 2] as const),
  ...THREE_DECIMAL.map((c) => [c, 3] as const),
]);

/** Every currency of the table, lower case, in Stripe's order (USD first, then alphabetical within each group). */
export const SUPPORTED_CURRENCIES: readonly string[] = [...TWO_DECIMAL, ...ZERO_DECIMAL, ...THREE_DECIMAL];

export function isSupportedCurrency(code: string): boolean {
  return EXPONENTS.has(code.toLowerCase());
}

/** Number of digits after the decimal point in the currency's minor unit (USD 2, JPY 0, KWD 3). */
export function currencyExponent(code: string): number {
  const exponent = EXPONENTS.get(code.toLowerCase());
  if (exponent === undefined) {
    throw new RangeError(`Unsupported currency: ${code}`);
  }
  return exponent;
}

/**
 * Stripe's fixed minimum charge amounts, in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
 * Every other currency's minimum is the equivalent of 0.50 USD at the day's exchange rate: not fixed, so not here.
 */
const MINIMUM_CHARGE: ReadonlyMap<string, bigint> = new Map([
  ['usd', 50n],
  ['aed', 200n],
  ['aud', 50n],
  ['bgn', 100n],
  ['brl', 50n],
  ['cad', 50n],
  ['chf', 50n],
  ['czk', 1500n],
  ['dkk', 250n],
  ['eur', 50n],
  ['gbp', 30n],
  ['hkd', 400n],
  ['huf', 17500n],
  ['inr', 50n],
  ['jpy', 50n],
  ['mxn', 1000n],
  ['myr', 200n],
  ['nok', 300n],
  ['nzd', 50n],
  ['pln', 200n],
  ['ron', 200n],
  ['sek', 300n],
  ['sgd', 50n],
  ['thb', 1000n],
]);

/** Stripe's maximum charge: an amount of at most eight digits (99,999,999: 999,999.99 USD), twelve for IDR. */
const MAXIMUM_CHARGE = 99_999_999n;
const MAXIMUM_CHARGE_EXCEPTIONS: ReadonlyMap<string, bigint> = new Map([['idr', 999_999_999_999n]]);

/**
 * The step of an amount Stripe charges by card, in minor units: 10 in the three-decimal currencies (a card amount's
 * last digit must be 0, "5.124 KWD must be rounded to 5120 or 5130", https://docs.stripe.com/currencies#three-decimal),
 * else 1.
 */
export function chargeStepMinor(code: string): bigint {
  return currencyExponent(code) === 3 ? 10n : 1n;
}

/** The smallest amount Stripe charges in this currency (minor units); null when it follows the exchange rate. */
export function minimumChargeMinor(code: string): bigint | null {
  currencyExponent(code);
  return MINIMUM_CHARGE.get(code.toLowerCase()) ?? null;
}

/** The largest amount Stripe charges in this currency (minor units). */
export function maximumChargeMinor(code: string): bigint {
  currencyExponent(code);
  return MAXIMUM_CHARGE_EXCEPTIONS.get(code.toLowerCase()) ?? MAXIMUM_CHARGE;
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

/** How the currency is named: its symbol where the locale has one ("$", "¥"), or always its code ("USD 25.50"). */
export type CurrencyDisplay = 'symbol' | 'code';

/** Intl's types for ES2022 only admit number | bigint, but ES2023 (Node 20) formats numeric strings exactly. */
interface DecimalStringFormatter {
  format(value: string): string;
}

/**
 * Localised display ("$25.50", "¥1,500", "KWD 1.234"; with `display: 'code'`, "USD 25.50"). The decimal string
 * goes to Intl as a string, so no amount is ever converted to a float. Fraction digits are pinned to the currency's
 * minor-unit exponent because Intl's own defaults differ from Stripe's for a few currencies (ISK: Intl 0, Stripe 2)
 * and would otherwise round on display.
 */
export function formatMoney(
  minor: bigint,
  currency: string,
  locale = 'en-US',
  display: CurrencyDisplay = 'symbol',
): string {
  return formatterFor(locale, currency, display).format(minorToDecimalString(minor, currency));
}

/** `formatMoney` of an amount already written as `minorToDecimalString` wrote it (no second conversion). */
export function formatDecimalAmount(amount: string, currency: string, locale = 'en-US'): string {
  return formatterFor(locale, currency, 'symbol').format(amount);
}

/**
 * Building an Intl.NumberFormat costs about 40 times a `format` call, and a page of invoices formats hundreds of
 * amounts in a handful of currencies: one formatter per locale, display and currency, kept (locales and currencies
 * come from our own code and the currency table, never from a request, so the map stays small).
 */
const formatters = new Map<string, Map<string, DecimalStringFormatter>>();

/** Keyed by locale and display, then by the currency as given ("usd" and "USD" get one formatter each). */
function formatterFor(locale: string, currency: string, display: CurrencyDisplay): DecimalStringFormatter {
  const key = display === 'symbol' ? locale : `${locale} code`;
  let byCurrency = formatters.get(key);
  if (!byCurrency) {
    byCurrency = new Map();
    formatters.set(key, byCurrency);
  }
  let formatter = byCurrency.get(currency);
  if (!formatter) {
    const exponent = currencyExponent(currency);
    formatter = new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: currency.toUpperCase(),
      currencyDisplay: display,
      minimumFractionDigits: exponent,
      maximumFractionDigits: exponent,
    }) as unknown as DecimalStringFormatter;
    byCurrency.set(currency, formatter);
  }
  return formatter;
}
