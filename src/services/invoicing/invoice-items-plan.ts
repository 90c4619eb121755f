import { currencyExponent } from '../../config/currencies';
import type { RemoteInvoiceItem } from '../../stripe';
import type { Decimal } from '../shared/decimal';
import {
  MAX_FRACTION_DIGITS,
  decimal,
  decimalToString,
  isNegative,
  isZero,
  mul,
  normalize,
  parseDecimal,
  pow10,
  sub,
} from '../shared/decimal';
import { toMinorUnits } from '../shared/money';

/** One of our lines as the Stripe draft must carry it. */
export interface LineToAttach {
  id: string;
  amountMinor: bigint;
  currency: string;
  stripeInvoiceItemId?: string | null;
}

export interface ItemsPlan {
  /** Items found on the draft that carry a line whose stored id is another (or none): store these ids. */
  adopt: Array<{ lineId: string; itemId: string }>;
  /** Items to delete from the draft: a line of ours carried twice, a wrong amount, an item we did not make. */
  remove: string[];
  /**
   * Lines with no item on the draft: add one. `replaces` names the item the line had (deleted here or elsewhere),
   * so the re-add gets an idempotency key of its own instead of replaying the gone item's creation.
   */
  add: Array<{ lineId: string; replaces: string | null }>;
}

/**
 * What turns the items a Stripe draft carries into exactly our lines, one item each (pure). A line keeps the item
 * whose id we stored, else the first item made for it (metadata `agenthub_line_id`) with its exact amount and
 * currency; every other item on the draft goes, so the draft totals ours.
 */
export function planItems(invoiceId: string, lines: LineToAttach[], items: RemoteInvoiceItem[]): ItemsPlan {
  const plan: ItemsPlan = { adopt: [], remove: [], add: [] };
  const kept = new Set<string>();
  for (const line of lines) {
    const fits = (item: RemoteInvoiceItem): boolean =>
      item.invoiceId === invoiceId &&
      item.lineId === line.id &&
      item.amountMinor === line.amountMinor &&
      item.currency.toLowerCase() === line.currency.toLowerCase() &&
      !kept.has(item.id);
    const item = items.find((i) => fits(i) && i.id === line.stripeInvoiceItemId) ?? items.find(fits);
    if (item) {
      kept.add(item.id);
      if (item.id !== line.stripeInvoiceItemId) {
        plan.adopt.push({ lineId: line.id, itemId: item.id });
      }
      continue;
    }
    const previous =
      line.stripeInvoiceItemId ?? items.find((i) => i.invoiceId === invoiceId && i.lineId === line.id)?.id ?? null;
    plan.add.push({ lineId: line.id, replaces: previous });
  }
  plan.remove = items.filter((item) => !kept.has(item.id)).map((item) => item.id);
  return plan;
}

/** One of our lines as its Stripe item must read: what it says, and how its amount is made. */
export interface LineToDescribe {
  description: string;
  /** The whole quantity, free units included. */
  quantity: string;
  /** The part beyond the free allowance; null when unknown (it is then not shown). */
  billableQuantity: string | null;
  /** Unit price in major units; null when the line has none (adjustments, nothing billable). */
  unitAmount: string | null;
  amountMinor: bigint;
  currency: string;
}

/** Stripe's item pricing: `quantity_decimal` × `unit_amount_decimal` (minor units), both with ≤ 12 decimals. */
export interface ItemPricing {
  quantity: string;
  unitAmountDecimal: string;
}

export interface StripeItemShape {
  description: string;
  /** Null: the item is made from the amount alone (quantity 1). */
  pricing: ItemPricing | null;
}

/**
 * How a line of ours is written as a Stripe invoice item, so the invoice reads in Stripe as it reads here ("1,190 ×
 * $0.02" rather than one unit of $23.80) and still totals exactly ours.
 *
 * Stripe computes an item's amount once, as round(quantity × unit_amount_decimal) half away from zero in minor
 * units: our rounding, on the same product, when the quantity is the BILLABLE quantity and the unit is our unit
 * price in minor units. So the free allowance is left out of the quantity and named in the description ("(1,250
 * used, 60 free)"), not sent as a separate negative line: two lines rounded apart could differ from ours by a
 * minor unit. The pricing is used only when Stripe's product, rounded, is exactly our amount (per-unit prices
 * always; tiered, volume and package prices when their average unit price, rounded to 12 decimals, multiplies back
 * exactly, which fails only on very large quantities); otherwise, and for lines without a unit price (late-usage
 * adjustments), the item carries the amount alone. Pure and
 * deterministic: a retry sends the same parameters under the same idempotency key.
 */
export function stripeItemOf(line: LineToDescribe): StripeItemShape {
  const quantity = parseDecimal(line.quantity);
  const billable = line.billableQuantity === null ? null : parseDecimal(line.billableQuantity);
  const free = billable === null ? null : sub(quantity, billable);
  const description =
    free !== null && !isZero(free) && !isNegative(free)
      ? `${line.description} (${groupDigits(decimalToString(quantity))} used, ${groupDigits(decimalToString(free))} free)`
      : line.description;
  return { description, pricing: exactPricing(line, billable) };
}

function exactPricing(line: LineToDescribe, billable: Decimal | null): ItemPricing | null {
  if (line.unitAmount === null || billable === null || isNegative(billable)) {
    return null;
  }
  const unit = parseDecimal(line.unitAmount);
  const exponent = currencyExponent(line.currency);
  const unitMinor = normalize(mul(unit, decimal(pow10(exponent))));
  if (isNegative(unitMinor) || unitMinor.scale > MAX_FRACTION_DIGITS || billable.scale > MAX_FRACTION_DIGITS) {
    return null;
  }
  // Stripe rounds quantity × unit to the minor unit; a line rounded further (to 10 fils, three-decimal currencies)
  // then goes as its amount alone, so Stripe's total stays ours.
  if (toMinorUnits(mul(billable, unit), line.currency) !== line.amountMinor) {
    return null;
  }
  return { quantity: decimalToString(billable), unitAmountDecimal: decimalToString(unitMinor) };
}

/** "1250" → "1,250", "1234567.5" → "1,234,567.5". */
function groupDigits(text: string): string {
  const [whole, fraction] = text.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
