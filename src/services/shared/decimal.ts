/**
 * Exact decimal arithmetic for quantities and prices (docs/architecture.md, invariant 1: no JavaScript float touches money).
 *
 * A `Decimal` is `value × 10^-scale` with a `bigint` value, so every sum and product is exact: a price of
 * 0.000002 times 1,234,567 tokens is exactly 2.469134, and rounding happens only where the caller asks for it
 * (once per invoice line, in `money.ts`). Inputs come from `numeric(30,12)` columns and the API as strings, so
 * `parseDecimal` accepts at most 18 integer and 12 fractional digits; results of arithmetic may carry a larger
 * scale (a product of two 12-digit decimals has scale 24), which is fine because nothing is rounded implicitly.
 *
 * Every function is pure and never mutates its arguments; values need not be normalised (1.50 and 1.5 compare
 * equal), and `decimalToString` prints the canonical form.
 */

/** An exact decimal number: `value × 10^-scale`. `scale` is a non-negative integer. */
export interface Decimal {
  readonly value: bigint;
  readonly scale: number;
}

/** Digits a `numeric(30,12)` column holds; inputs beyond these would be silently rounded by PostgreSQL. */
export const MAX_INTEGER_DIGITS = 18;
export const MAX_FRACTION_DIGITS = 12;

export const ZERO: Decimal = Object.freeze({ value: 0n, scale: 0 });

/** Plain positional notation only: no sign other than a leading '-', no exponent, no bare '.5' or '5.'. */
const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;

/** Builds a decimal from a units value at a scale; rejects a scale that is not a non-negative integer. */
export function decimal(value: bigint, scale = 0): Decimal {
  if (!Number.isInteger(scale) || scale < 0) {
    throw new RangeError(`Decimal scale must be a non-negative integer, got ${scale}`);
  }
  return { value, scale };
}

/** 10^n as a bigint; n is always a small non-negative integer here. */
export function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/**
 * Parses a decimal string such as "0.000002", "1500", "-12.5" or PostgreSQL's "1.500000000000".
 * Throws a RangeError naming the input when it is empty, not plain positional notation (exponents, "NaN",
 * "Infinity", spaces, "+1", ".5", "1."), or has more than 18 integer or 12 fractional digits. Whether a negative
 * value is allowed is the caller's decision.
 */
export function parseDecimal(input: string): Decimal {
  if (typeof input !== 'string') {
    // JSON columns (tiers) can smuggle in a number, which has already been through a float.
    throw new RangeError(`Invalid decimal ${String(input)}: expected a string, got ${typeof input}`);
  }
  if (input.length === 0) {
    throw new RangeError('Invalid decimal: empty value');
  }
  const match = DECIMAL_PATTERN.exec(input);
  if (!match) {
    throw new RangeError(`Invalid decimal "${input}": expected digits with an optional '-' and '.' (e.g. "12.5")`);
  }
  const [, sign, integerDigits, fractionDigits = ''] = match;
  if (integerDigits.replace(/^0+/, '').length > MAX_INTEGER_DIGITS) {
    throw new RangeError(`Invalid decimal "${input}": more than ${MAX_INTEGER_DIGITS} integer digits`);
  }
  if (fractionDigits.length > MAX_FRACTION_DIGITS) {
    throw new RangeError(`Invalid decimal "${input}": more than ${MAX_FRACTION_DIGITS} fractional digits`);
  }
  const magnitude = BigInt(integerDigits + fractionDigits);
  return normalize({ value: sign === '-' ? -magnitude : magnitude, scale: fractionDigits.length });
}

/** Drops trailing fractional zeros so equal numbers have one representation (and scales stay small). */
export function normalize(d: Decimal): Decimal {
  let { value, scale } = d;
  while (scale > 0 && value % 10n === 0n) {
    value /= 10n;
    scale -= 1;
  }
  return { value, scale };
}

/** Canonical text: no trailing zeros, no exponent, "0" for zero, "-" only for negatives ("-0.05"). */
export function decimalToString(d: Decimal): string {
  const { value, scale } = normalize(d);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString();
  if (scale === 0) {
    return (negative ? '-' : '') + digits;
  }
  const padded = digits.padStart(scale + 1, '0');
  const integerPart = padded.slice(0, padded.length - scale);
  const fractionPart = padded.slice(padded.length - scale);
  return `${negative ? '-' : ''}${integerPart}.${fractionPart}`;
}

/** Rewrites `d` at a larger-or-equal scale (exact); used to line two operands up. */
function rescale(d: Decimal, scale: number): bigint {
  return d.value * pow10(scale - d.scale);
}

export function add(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { value: rescale(a, scale) + rescale(b, scale), scale };
}

export function sub(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { value: rescale(a, scale) - rescale(b, scale), scale };
}

/** Exact product; the scale is the sum of the scales, normalised so chains of products stay short. */
export function mul(a: Decimal, b: Decimal): Decimal {
  return normalize({ value: a.value * b.value, scale: a.scale + b.scale });
}

/** -1, 0 or 1, independent of representation (compare("1.50", "1.5") === 0). */
export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  if (x < y) {
    return -1;
  }
  return x > y ? 1 : 0;
}

export function min(a: Decimal, b: Decimal): Decimal {
  return compare(a, b) <= 0 ? a : b;
}

export function max(a: Decimal, b: Decimal): Decimal {
  return compare(a, b) >= 0 ? a : b;
}

export function isZero(d: Decimal): boolean {
  return d.value === 0n;
}

export function isNegative(d: Decimal): boolean {
  return d.value < 0n;
}

/**
 * `numerator / denominator` rounded half away from zero to an integer. Money rounds "half-up" on the magnitude so
 * that a credit of -0.005 becomes -0.01 exactly as a charge of 0.005 becomes 0.01 (symmetric; no sign bias).
 */
export function divRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) {
    throw new RangeError('Division by zero');
  }
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const quotient = (2n * n + d) / (2n * d);
  return negative ? -quotient : quotient;
}

/**
 * The number of `10^-scale` units nearest to `d`, ties rounded half away from zero (2.465 → 247 at scale 2,
 * -2.465 → -247). Exact when `d` already fits the scale. This is the single rounding step of a line amount.
 */
export function roundHalfUpToScale(d: Decimal, scale: number): bigint {
  if (!Number.isInteger(scale) || scale < 0) {
    throw new RangeError(`Rounding scale must be a non-negative integer, got ${scale}`);
  }
  if (d.scale <= scale) {
    return rescale(d, scale);
  }
  return divRoundHalfUp(d.value, pow10(d.scale - scale));
}

/** `a / b` rounded half away from zero to `scale` fractional digits (display prices, never money amounts). */
export function divToScale(a: Decimal, b: Decimal, scale: number): Decimal {
  if (b.value === 0n) {
    throw new RangeError('Division by zero');
  }
  // a/b × 10^scale = (a.value × 10^(b.scale + scale)) / (b.value × 10^a.scale)
  const units = divRoundHalfUp(a.value * pow10(b.scale + scale), b.value * pow10(a.scale));
  return normalize({ value: units, scale });
}

/**
 * ⌈a / b⌉ for a positive divisor: the number of packages of size `b` that `a` units start (1001 units in packages of
 * 1000 → 2). Works for any sign of `a` (⌈-1.5⌉ = -1) so package arithmetic on ranges never special-cases zero.
 */
export function ceilDiv(a: Decimal, b: Decimal): bigint {
  if (b.value <= 0n) {
    throw new RangeError(`ceilDiv needs a positive divisor, got ${decimalToString(b)}`);
  }
  const numerator = a.value * pow10(b.scale);
  const denominator = b.value * pow10(a.scale);
  const quotient = numerator / denominator; // truncates toward zero
  return numerator > 0n && quotient * denominator !== numerator ? quotient + 1n : quotient;
}
