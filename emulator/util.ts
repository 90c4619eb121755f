import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumeric string, like the suffix of a Stripe id. */
export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) {
    out += ALPHABET[bytes[i] % ALPHABET.length];
  }
  return out;
}

/** A Stripe-style id: `cus_` + 14 random characters (`in_`, `ii_`, `evt_`, ...). */
export function newId(prefix: string): string {
  return `${prefix}_${randomToken(prefix === 'evt' || prefix === 'req' ? 24 : 14)}`;
}

/** Deep copy of a JSON-compatible value (Decimal values become their string form). */
export function snapshot<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Currencies whose amounts have no minor unit (Stripe's list). */
export const ZERO_DECIMAL = new Set([
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
]);

/** Human formatting of an amount in minor units, e.g. 1234 usd → "$12.34"; 500 jpy → "¥500". */
export function formatMoney(amountMinor: number, currency: string): string {
  const cur = currency.toUpperCase();
  const digits = ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;
  const negative = amountMinor < 0;
  const abs = BigInt(Math.abs(amountMinor));
  const scale = 10n ** BigInt(digits);
  const major = abs / scale;
  const minor = (abs % scale).toString().padStart(digits, '0');
  const text = digits === 0 ? major.toString() : `${major}.${minor}`;
  const symbols: Record<string, string> = { USD: '$', EUR: '€', GBP: '£', JPY: '¥' };
  return `${negative ? '-' : ''}${symbols[cur] ?? `${cur} `}${text}`;
}

/**
 * quantity × unit amount (a decimal string, in minor units) rounded half-up to an integer, without floats.
 * Returns null when the decimal string is malformed.
 */
export function multiplyDecimal(quantity: number, unitAmountDecimal: string): number | null {
  const m = /^(-?)(\d+)(?:\.(\d{1,12}))?$/.exec(unitAmountDecimal.trim());
  if (!m) {
    return null;
  }
  const fraction = m[3] ?? '';
  const scale = 10n ** BigInt(fraction.length);
  const unitScaled = BigInt(m[2] + fraction) * (m[1] === '-' ? -1n : 1n);
  const product = unitScaled * BigInt(quantity);
  const negative = product < 0n;
  const abs = negative ? -product : product;
  let rounded = abs / scale;
  if ((abs % scale) * 2n >= scale) {
    rounded += 1n;
  }
  return Number(negative ? -rounded : rounded);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
