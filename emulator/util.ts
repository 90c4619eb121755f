import { randomBytes } from 'node:crypto';
import {
  type CurrencyDisplay,
  currencyExponent,
  formatMoney as formatMinor,
  isSupportedCurrency,
} from '../src/config/currencies';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Random characters of `ALPHABET` drawn 4 KB at a time: one call into the CSPRNG per ~200 ids rather than one per id,
 * and each token one flat string cut from the pool (not a chain of 24 one-character appends, which every Map lookup
 * of the id would first have to flatten).
 */
let pool = Buffer.alloc(0);
let used = 0;

/** Random alphanumeric string, like the suffix of a Stripe id. */
export function randomToken(length: number): string {
  if (used + length > pool.length) {
    pool = randomBytes(Math.max(4096, length));
    for (let i = 0; i < pool.length; i++) {
      pool[i] = ALPHABET.charCodeAt(pool[i] % ALPHABET.length);
    }
    used = 0;
  }
  const out = pool.toString('latin1', used, used + length);
  used += length;
  return out;
}

/** A Stripe-style id: `cus_` + 14 random characters (`in_`, `ii_`, `evt_`, ...). */
export function newId(prefix: string): string {
  return `${prefix}_${randomToken(prefix === 'evt' || prefix === 'req' ? 24 : 14)}`;
}

/**
 * Deep copy of a JSON-compatible value, exactly what `JSON.parse(JSON.stringify(value))` gives (a value with `toJSON`,
 * such as a Decimal or a Date, becomes its JSON form; `undefined` properties are dropped) in about a third of the
 * time: every event copies the object it is about, and a paid invoice makes a dozen events.
 */
export function snapshot<T>(value: T): T {
  return copyJson(value) as T;
}

function copyJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'number') {
      // JSON writes -0 as 0, and what it cannot write (NaN, Infinity) as null.
      return Number.isFinite(value) ? value + 0 : null;
    }
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return copyJson((value as { toJSON(): unknown }).toJSON());
  }
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = copyJson(value[i]);
      out[i] = item === undefined ? null : item;
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = copyJson((value as Record<string, unknown>)[key]);
    if (item === undefined) {
      continue;
    }
    if (key === '__proto__') {
      // An own property, as JSON.parse makes it, not the object's prototype.
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    } else {
      out[key] = item;
    }
  }
  return out;
}

/**
 * Human writing of an amount in minor units, from the currency table the server uses (src/config/currencies.ts):
 * 1234 usd → "$12.34", 1001 jpy → "¥1,001", 1234 kwd → "KWD 1.234"; `code` writes "USD 12.34" (plain ASCII, for the
 * PDF). A currency outside the table (only in a state file older than the currency check) is written with 2 digits.
 */
export function formatMoney(amountMinor: number, currency: string, display: CurrencyDisplay = 'symbol'): string {
  const code = currency.toLowerCase();
  if (!isSupportedCurrency(code)) {
    return `${code.toUpperCase()} ${(amountMinor / 100).toFixed(2)}`;
  }
  return formatMinor(BigInt(amountMinor), code, 'en-US', display).replace(/\u00a0/g, ' ');
}

/** A decimal quantity for people: "1250" → "1,250", "12.5" → "12.5" (grouped, exact, no float). */
export function formatQuantity(quantity: string): string {
  const parsed = parseDecimalString(quantity);
  if (!parsed) {
    return quantity;
  }
  const [whole, fraction = ''] = quantity.trim().replace(/^-/, '').split('.');
  const grouped = whole.replace(/^0+(?=\d)/, '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const trimmed = fraction.replace(/0+$/, '');
  return `${parsed.value < 0n ? '-' : ''}${grouped}${trimmed ? `.${trimmed}` : ''}`;
}

/**
 * A unit price given in minor units with up to 12 decimals (Stripe's `unit_amount_decimal`), written in major units
 * with the currency's digits at least and any finer digits kept: "2" usd → "$0.02", "0.5" usd → "$0.005",
 * "333.5" jpy → "¥333.5", "1234" kwd → "KWD 1.234".
 */
export function formatUnitAmount(
  unitAmountDecimal: string,
  currency: string,
  display: CurrencyDisplay = 'symbol',
): string {
  const parsed = parseDecimalString(unitAmountDecimal);
  const code = currency.toLowerCase();
  if (!parsed || !isSupportedCurrency(code)) {
    return `${unitAmountDecimal} ${code}`;
  }
  const exponent = currencyExponent(code);
  const scale = parsed.scale + exponent;
  const negative = parsed.value < 0n;
  const digits = (negative ? -parsed.value : parsed.value).toString().padStart(scale + 1, '0');
  const major = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  const fraction = scale === 0 ? '' : major.split('.')[1].replace(/0+$/, '');
  const formatter = new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: code.toUpperCase(),
    currencyDisplay: display,
    minimumFractionDigits: exponent,
    maximumFractionDigits: Math.max(exponent, fraction.length),
  }) as unknown as { format(value: string): string };
  return formatter.format(`${negative ? '-' : ''}${major}`).replace(/\u00a0/g, ' ');
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d{1,12}))?$/;

/** A decimal string with at most 12 fractional digits as an integer and its scale; null when malformed. */
export function parseDecimalString(text: string): { value: bigint; scale: number } | null {
  const m = DECIMAL.exec(text.trim());
  if (!m) {
    return null;
  }
  const fraction = m[3] ?? '';
  return { value: BigInt(m[2] + fraction) * (m[1] === '-' ? -1n : 1n), scale: fraction.length };
}

/**
 * quantity × unit amount (decimal strings, the unit in minor units) rounded half away from zero to an integer,
 * exactly (no floats), as Stripe rounds a line: 30 × 0.05 = 1.5 → 2. Null when a decimal string is malformed.
 */
export function multiplyDecimal(quantity: number | string, unitAmountDecimal: string): bigint | null {
  const q = parseDecimalString(String(quantity));
  const u = parseDecimalString(unitAmountDecimal);
  if (!q || !u) {
    return null;
  }
  const product = q.value * u.value;
  const scale = 10n ** BigInt(q.scale + u.scale);
  const negative = product < 0n;
  const abs = negative ? -product : product;
  let rounded = abs / scale;
  if ((abs % scale) * 2n >= scale) {
    rounded += 1n;
  }
  return negative ? -rounded : rounded;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
