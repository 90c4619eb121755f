/**
 * Pure usage pricing: quantities and price specs in, invoice lines in integer minor units out. All arithmetic is
 * exact (`Decimal`, bigint); each line's exact cost is rounded ONCE, half-up, to the currency's minor unit, and the
 * invoice total is the sum of the rounded lines (docs/architecture.md, invariant 1).
 *
 * Semantics (the contract other services and the admin API rely on):
 *
 * - Input is the usage of ONE metric in ONE period, split into segments by the price version in force when the
 *   usage occurred, in time order. Q = Σ q_i; segment i covers the cumulative range [c_i, c_i + q_i), where c_i is
 *   the sum of the earlier segments' quantities. Tiers therefore continue across a mid-period price change.
 * - Free allowance A_i (segment i's price): the billable part of segment i is [max(c_i, A_i), c_i + q_i) shifted by
 *   −A_i, i.e. billable positions [s_i, e_i) with s_i = max(0, c_i − A_i), e_i = max(0, c_i + q_i − A_i); empty
 *   when the segment lies wholly inside the allowance. The period's total billable quantity is B_i = max(0, Q − A_i).
 * - Tiers are sorted ascending, the last has `upTo: null`; `upTo` is an INCLUSIVE upper bound, so tier k covers
 *   billable positions (upTo_{k−1}, upTo_k] (tier 1 starts at 0). A quantity exactly at `upTo` is priced entirely in
 *   the lower tier.
 * - per_unit:  cost_i = (e_i − s_i) × unitAmount.
 * - graduated: cost_i = Σ_k |[s_i, e_i) ∩ tier_k| × tier_k.unitAmount, plus tier_k.flatAmount for every tier whose
 *   lower bound lies in [s_i, e_i): a flat fee is charged once, by the segment that enters the tier, and a tier
 *   entered by zero usage charges nothing.
 * - volume:    ONE tier, chosen by B_i (the first tier with B_i ≤ upTo, else the last); cost_i = (e_i − s_i) ×
 *   tier.unitAmount, plus tier.flatAmount once, in the last segment with billable quantity > 0. Volume pricing is
 *   not monotonic across a boundary (101 units at a cheaper tier can cost less than 100): that is the model.
 * - package:   unitAmount is the price of one package of `packageSize` units, counted on billable positions; a
 *   package belongs to the segment in which its first unit falls: cost_i = (⌈e_i / size⌉ − ⌈s_i / size⌉) × unitAmount.
 * - Each segment gives one line (even with zero usage, so a price change stays visible on the invoice). The line's
 *   `unitAmount` is for display: the per_unit price, or exact cost / billable quantity rounded half-up to 12
 *   fractional digits for the other models; null when nothing is billable.
 */
import { currencyExponent } from '../../config/currencies';
import { PriceModel } from '../../entities/enums';
import type { PriceTier } from '../../entities/price.entity';
import type { Decimal } from '../shared/decimal';
import {
  MAX_FRACTION_DIGITS,
  ZERO,
  add,
  ceilDiv,
  compare,
  decimal,
  decimalToString,
  divToScale,
  isNegative,
  isZero,
  max,
  min,
  mul,
  parseDecimal,
  sub,
} from '../shared/decimal';
import { sumMinor, toChargeableMinorUnits } from '../shared/money';

/** A price as the pricing needs it: the subset of `Price` that decides the amount, decimals as strings. */
export interface PriceSpec {
  id?: string;
  model: PriceModel;
  /** Per-unit (per_unit) or per-package (package) price in major units; unused by tiered models. */
  unitAmount?: string | null;
  /** Units per package (package model). */
  packageSize?: string | null;
  /** Graduated and volume tiers, ascending, last `upTo` null. */
  tiers?: PriceTier[] | null;
  /** Units per period that are free before this price applies. */
  freeAllowance: string;
}

/** The usage of one metric in one period under one price version (segments are given in time order). */
export interface UsageSegment {
  quantity: string;
  price: PriceSpec;
}

/** One invoice line: one segment priced. Decimals are canonical strings; the amount is in minor units. */
export interface PricedLine {
  /** The segment's whole quantity, free units included. */
  quantity: string;
  /** The part of the quantity beyond the free allowance. */
  billableQuantity: string;
  /** Effective price per billable unit, for display; null when nothing is billable. */
  unitAmount: string | null;
  /** The exact cost rounded once, half-up, to the currency's minor unit. */
  amountMinor: bigint;
  /** The exact cost in major units before rounding, for audit and for checking the single rounding step. */
  exactAmount: string;
  priceId?: string;
}

/** Why a price spec cannot be used; `field` is a path into the spec (e.g. "tiers[1].upTo"). */
export interface PriceProblem {
  field: string;
  message: string;
}

interface ParsedTier {
  /** Exclusive lower bound in billable positions (0 for the first tier). */
  lower: Decimal;
  /** Inclusive upper bound; null for the open-ended last tier. */
  upTo: Decimal | null;
  unitAmount: Decimal;
  flatAmount: Decimal;
}

interface ParsedPrice {
  model: PriceModel;
  unitAmount: Decimal;
  packageSize: Decimal;
  tiers: ParsedTier[];
  freeAllowance: Decimal;
}

const MODELS: readonly string[] = Object.values(PriceModel);

/** Parses one decimal field, recording a problem (and returning undefined) when it is missing, invalid or too small. */
function readAmount(
  raw: string | null | undefined,
  field: string,
  problems: PriceProblem[],
  rule: 'non-negative' | 'positive',
): Decimal | undefined {
  if (raw === null || raw === undefined || raw === '') {
    problems.push({ field, message: 'is required' });
    return undefined;
  }
  let value: Decimal;
  try {
    value = parseDecimal(raw);
  } catch (error) {
    problems.push({ field, message: (error as Error).message });
    return undefined;
  }
  if (rule === 'positive' && (isNegative(value) || isZero(value))) {
    problems.push({ field, message: `must be greater than 0, got ${raw}` });
    return undefined;
  }
  if (isNegative(value)) {
    problems.push({ field, message: `must not be negative, got ${raw}` });
    return undefined;
  }
  return value;
}

/** Parses and checks tiers: non-empty, each bound > 0, strictly ascending, only the last open-ended. */
function readTiers(tiers: PriceTier[] | null | undefined, problems: PriceProblem[]): ParsedTier[] {
  if (!Array.isArray(tiers) || tiers.length === 0) {
    problems.push({ field: 'tiers', message: 'at least one tier is required' });
    return [];
  }
  const parsed: ParsedTier[] = [];
  let lower: Decimal = ZERO;
  let lowerText = '0';
  tiers.forEach((tier, index) => {
    const at = `tiers[${index}]`;
    if (typeof tier !== 'object' || tier === null) {
      problems.push({ field: at, message: 'must be an object { upTo, unitAmount, flatAmount? }' });
      return;
    }
    const isLast = index === tiers.length - 1;
    const unitAmount = readAmount(tier.unitAmount, `${at}.unitAmount`, problems, 'non-negative');
    const flatAmount =
      tier.flatAmount === undefined || tier.flatAmount === null
        ? ZERO
        : readAmount(tier.flatAmount, `${at}.flatAmount`, problems, 'non-negative');
    let upTo: Decimal | null = null;
    if (tier.upTo === null || tier.upTo === undefined) {
      if (!isLast) {
        problems.push({ field: `${at}.upTo`, message: 'only the last tier may be open-ended (upTo null)' });
      }
    } else {
      if (isLast) {
        problems.push({ field: `${at}.upTo`, message: 'the last tier must be open-ended (upTo null)' });
      }
      const bound = readAmount(tier.upTo, `${at}.upTo`, problems, 'positive');
      if (bound !== undefined) {
        if (compare(bound, lower) <= 0) {
          problems.push({
            field: `${at}.upTo`,
            message: `tiers must be sorted by strictly ascending upTo: ${tier.upTo} is not above ${lowerText}`,
          });
        } else {
          upTo = bound;
        }
      }
    }
    if (unitAmount !== undefined && flatAmount !== undefined) {
      parsed.push({ lower, upTo, unitAmount, flatAmount });
    }
    if (upTo !== null) {
      lower = upTo;
      lowerText = tier.upTo ?? lowerText;
    }
  });
  return parsed;
}

/** Parses a spec once, collecting every problem so the admin API can report them all together. */
function readPriceSpec(spec: PriceSpec): { problems: PriceProblem[]; price: ParsedPrice | null } {
  const problems: PriceProblem[] = [];
  const freeAllowance = readAmount(spec.freeAllowance, 'freeAllowance', problems, 'non-negative');
  let unitAmount: Decimal | undefined = ZERO;
  let packageSize: Decimal | undefined = decimal(1n);
  let tiers: ParsedTier[] = [];
  switch (spec.model) {
    case PriceModel.PER_UNIT:
      unitAmount = readAmount(spec.unitAmount, 'unitAmount', problems, 'non-negative');
      break;
    case PriceModel.PACKAGE:
      unitAmount = readAmount(spec.unitAmount, 'unitAmount', problems, 'non-negative');
      packageSize = readAmount(spec.packageSize, 'packageSize', problems, 'positive');
      break;
    case PriceModel.GRADUATED:
    case PriceModel.VOLUME:
      tiers = readTiers(spec.tiers, problems);
      break;
    default:
      problems.push({ field: 'model', message: `must be one of ${MODELS.join(', ')}, got ${String(spec.model)}` });
  }
  if (problems.length > 0 || freeAllowance === undefined || unitAmount === undefined || packageSize === undefined) {
    return { problems, price: null };
  }
  return { problems, price: { model: spec.model, unitAmount, packageSize, tiers, freeAllowance } };
}

/**
 * Every reason the spec cannot price usage in `currency` (empty when valid): unsupported currency, missing or
 * invalid decimals, negative amounts or allowance, a non-positive package size, and empty, unsorted, duplicate or
 * wrongly open-ended tiers. Fields the model does not use are ignored.
 */
export function validatePriceSpec(spec: PriceSpec, currency: string): PriceProblem[] {
  const problems: PriceProblem[] = [];
  try {
    currencyExponent(currency);
  } catch (error) {
    problems.push({ field: 'currency', message: (error as Error).message });
  }
  return [...problems, ...readPriceSpec(spec).problems];
}

/** Parses a spec or throws one RangeError listing every problem (priceUsage must never guess). */
function requirePrice(spec: PriceSpec, index: number): ParsedPrice {
  const { problems, price } = readPriceSpec(spec);
  if (price === null) {
    const name = spec.id === undefined ? `segments[${index}].price` : `price ${spec.id}`;
    throw new RangeError(`Invalid ${name}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`);
  }
  return price;
}

/** Length of [start, end) ∩ (lower, upTo]; an open upper bound is infinite. Measures agree for open/closed ends. */
function overlap(start: Decimal, end: Decimal, tier: ParsedTier): Decimal {
  const from = max(start, tier.lower);
  const to = tier.upTo === null ? end : min(end, tier.upTo);
  return compare(to, from) > 0 ? sub(to, from) : ZERO;
}

/** The lower bound lies in [start, end): the segment is where usage enters the tier. */
function entersTier(start: Decimal, end: Decimal, tier: ParsedTier): boolean {
  return compare(start, tier.lower) <= 0 && compare(tier.lower, end) < 0;
}

function graduatedCost(start: Decimal, end: Decimal, tiers: readonly ParsedTier[]): Decimal {
  return tiers.reduce((cost, tier) => {
    const usage = mul(overlap(start, end, tier), tier.unitAmount);
    return add(add(cost, usage), entersTier(start, end, tier) ? tier.flatAmount : ZERO);
  }, ZERO);
}

/** The volume tier for the period's total billable quantity: first with total ≤ upTo, else the last. */
function volumeTier(totalBillable: Decimal, tiers: readonly ParsedTier[]): ParsedTier {
  return tiers.find((tier) => tier.upTo !== null && compare(totalBillable, tier.upTo) <= 0) ?? tiers[tiers.length - 1];
}

interface SegmentRange {
  quantity: Decimal;
  price: ParsedPrice;
  start: Decimal;
  end: Decimal;
  totalBillable: Decimal;
}

/** Places each segment on the cumulative axis and shifts it by its own free allowance (see the file header). */
function segmentRanges(quantities: readonly Decimal[], prices: readonly ParsedPrice[]): SegmentRange[] {
  const total = quantities.reduce(add, ZERO);
  let cumulative: Decimal = ZERO;
  return quantities.map((quantity, index) => {
    const price = prices[index];
    const allowance = price.freeAllowance;
    const start = max(ZERO, sub(cumulative, allowance));
    cumulative = add(cumulative, quantity);
    const end = max(ZERO, sub(cumulative, allowance));
    return { quantity, price, start, end, totalBillable: max(ZERO, sub(total, allowance)) };
  });
}

/** Exact cost of one segment in major units; `chargesVolumeFlat` marks the last segment with billable usage. */
function segmentCost(range: SegmentRange, chargesVolumeFlat: boolean): Decimal {
  const { price, start, end } = range;
  const billable = sub(end, start);
  switch (price.model) {
    case PriceModel.PER_UNIT:
      return mul(billable, price.unitAmount);
    case PriceModel.GRADUATED:
      return graduatedCost(start, end, price.tiers);
    case PriceModel.VOLUME: {
      const tier = volumeTier(range.totalBillable, price.tiers);
      return add(mul(billable, tier.unitAmount), chargesVolumeFlat ? tier.flatAmount : ZERO);
    }
    case PriceModel.PACKAGE: {
      const packages = ceilDiv(end, price.packageSize) - ceilDiv(start, price.packageSize);
      return mul(decimal(packages), price.unitAmount);
    }
  }
}

/** Array.prototype.findLastIndex is ES2023; the project targets the ES2022 library. */
function lastIndexWhere<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  for (let index = items.length - 1; index >= 0; index -= 1) {
    if (predicate(items[index])) {
      return index;
    }
  }
  return -1;
}

function parseQuantity(raw: string, index: number): Decimal {
  const quantity = parseDecimal(raw);
  if (isNegative(quantity)) {
    throw new RangeError(`segments[${index}].quantity must not be negative, got ${raw}`);
  }
  return quantity;
}

/**
 * Prices one metric's usage for one period: one line per segment, amounts in `currency`'s minor unit. Throws
 * RangeError for an unsupported currency, an invalid price spec (with every problem) or an invalid/negative quantity.
 */
export function priceUsage(segments: readonly UsageSegment[], currency: string): PricedLine[] {
  currencyExponent(currency);
  const quantities = segments.map((segment, index) => parseQuantity(segment.quantity, index));
  const prices = segments.map((segment, index) => requirePrice(segment.price, index));
  const ranges = segmentRanges(quantities, prices);
  const lastBillable = lastIndexWhere(ranges, (range) => compare(range.end, range.start) > 0);
  return ranges.map((range, index) => {
    const cost = segmentCost(range, index === lastBillable);
    const billable = sub(range.end, range.start);
    const line: PricedLine = {
      quantity: decimalToString(range.quantity),
      billableQuantity: decimalToString(billable),
      unitAmount: displayUnitAmount(range.price, cost, billable),
      // Once, half-up, to what Stripe charges: the minor unit, or 10 fils in the three-decimal currencies.
      amountMinor: toChargeableMinorUnits(cost, currency),
      exactAmount: decimalToString(cost),
    };
    const priceId = segments[index].price.id;
    return priceId === undefined ? line : { ...line, priceId };
  });
}

/** The per_unit price as configured, otherwise the average price per billable unit; null when nothing is billable. */
function displayUnitAmount(price: ParsedPrice, cost: Decimal, billable: Decimal): string | null {
  if (isZero(billable)) {
    return null;
  }
  if (price.model === PriceModel.PER_UNIT) {
    return decimalToString(price.unitAmount);
  }
  return decimalToString(divToScale(cost, billable, MAX_FRACTION_DIGITS));
}

/** A single quantity under a single price (no mid-period change): one line. */
export function priceQuantity(quantity: string, price: PriceSpec, currency: string): PricedLine {
  return priceUsage([{ quantity, price }], currency)[0];
}

/** The invoice total: the exact sum of the already-rounded line amounts (never a re-rounded exact total). */
export function invoiceTotal(lines: readonly Pick<PricedLine, 'amountMinor'>[]): bigint {
  return sumMinor(lines.map((line) => line.amountMinor));
}
