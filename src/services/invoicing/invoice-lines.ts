import type { EntityManager } from '@mikro-orm/postgresql';
import { InvoiceLineKind } from '../../entities/enums';
import type { BillingPeriod } from '../billing-runs/billing-period';
import { parsePeriod } from '../billing-runs/billing-period';
import { ZERO, add, decimalToString, parseDecimal, sub } from '../shared/decimal';
import { sumMinor } from '../shared/money';
import { priceUsage } from '../usage/pricing';
import type { PricedLine } from '../usage/pricing';
import type { UsageSegmentRow } from '../usage/usage-aggregation';
import { aggregateUsage } from '../usage/usage-aggregation';
import { latePeriodsOf } from './invoice-repository';

/** One line of an invoice (or of its preview), before it is stored. */
export interface ComputedLine {
  kind: InvoiceLineKind;
  /** The period the usage occurred in (earlier than the invoice's for late-usage adjustments). */
  usagePeriod: string;
  metricId: string;
  metricCode: string;
  metricName: string;
  unit: string;
  priceId: string | null;
  description: string;
  quantity: string;
  billableQuantity: string;
  unitAmount: string | null;
  amountMinor: bigint;
  /** True when no price covered the usage: shown at zero so it is never silently dropped. */
  unpriced: boolean;
}

export interface ComputedInvoice {
  period: BillingPeriod;
  currency: string;
  lines: ComputedLine[];
  subtotalMinor: bigint;
  /** Earlier invoiced periods whose late usage this invoice carries. */
  latePeriods: string[];
}

function groupByMetric(rows: UsageSegmentRow[]): UsageSegmentRow[][] {
  const groups = new Map<string, UsageSegmentRow[]>();
  for (const row of rows) {
    groups.set(row.metricId, [...(groups.get(row.metricId) ?? []), row]);
  }
  return [...groups.values()];
}

/** Prices one metric's segments: a line per price version, or one unpriced line at zero. */
function priceMetric(
  segments: UsageSegmentRow[],
  currency: string,
): Array<{ row: UsageSegmentRow; priced: PricedLine | null }> {
  const priced = segments.filter((s) => s.price);
  const lines = priceUsage(
    priced.map((s) => ({ quantity: s.quantity, price: { ...s.price!, id: s.price!.id } })),
    currency,
  );
  return [
    ...priced.map((row, i) => ({ row, priced: lines[i] })),
    ...segments.filter((s) => !s.price).map((row) => ({ row, priced: null })),
  ];
}

function usageLines(period: BillingPeriod, rows: UsageSegmentRow[], currency: string): ComputedLine[] {
  return groupByMetric(rows).flatMap((segments) => {
    const many = segments.length > 1;
    return priceMetric(segments, currency).map(({ row, priced }) => ({
      kind: InvoiceLineKind.USAGE,
      usagePeriod: period.key,
      metricId: row.metricId,
      metricCode: row.metricCode,
      metricName: row.metricName,
      unit: row.unit,
      priceId: row.price?.id ?? null,
      description: priced
        ? `${row.metricName}${many ? ` (price from ${row.price!.effectiveFrom.toISOString().slice(0, 10)})` : ''}`
        : `${row.metricName} (no price in ${currency.toUpperCase()})`,
      quantity: decimalToString(parseDecimal(row.quantity)),
      billableQuantity: priced?.billableQuantity ?? '0',
      unitAmount: priced?.unitAmount ?? null,
      amountMinor: priced?.amountMinor ?? 0n,
      unpriced: !priced,
    }));
  });
}

function totals(
  rows: UsageSegmentRow[],
  currency: string,
): Map<string, { row: UsageSegmentRow; quantity: string; amount: bigint }> {
  const result = new Map<string, { row: UsageSegmentRow; quantity: string; amount: bigint }>();
  for (const segments of groupByMetric(rows)) {
    const lines = priceMetric(segments, currency);
    result.set(segments[0].metricId, {
      row: segments[0],
      quantity: decimalToString(segments.reduce((acc, s) => add(acc, parseDecimal(s.quantity)), ZERO)),
      amount: sumMinor(lines.map((l) => l.priced?.amountMinor ?? 0n)),
    });
  }
  return result;
}

/**
 * Late usage of an invoiced period: usage received after its period's invoice. It is carried to the next invoice
 * as one adjustment line per metric, priced as the continuation of that period (same prices, tiers and allowance):
 * price(all of the period's usage) − price(what was already billed).
 */
function adjustmentLines(
  period: BillingPeriod,
  all: UsageSegmentRow[],
  billed: UsageSegmentRow[],
  currency: string,
): ComputedLine[] {
  const before = totals(billed, currency);
  const lines: ComputedLine[] = [];
  for (const [metricId, after] of totals(all, currency)) {
    const earlier = before.get(metricId);
    const quantity = sub(parseDecimal(after.quantity), parseDecimal(earlier?.quantity ?? '0'));
    const amount = after.amount - (earlier?.amount ?? 0n);
    if (quantity.value === 0n && amount === 0n) {
      continue;
    }
    lines.push({
      kind: InvoiceLineKind.ADJUSTMENT,
      usagePeriod: period.key,
      metricId,
      metricCode: after.row.metricCode,
      metricName: after.row.metricName,
      unit: after.row.unit,
      priceId: null,
      description: `Late usage for ${period.key}: ${after.row.metricName}`,
      quantity: decimalToString(quantity),
      billableQuantity: decimalToString(quantity),
      unitAmount: null,
      amountMinor: amount,
      unpriced: false,
    });
  }
  return lines;
}

/**
 * The lines of an invoice for `period`: the period's usage priced by the versions in force, plus adjustments for
 * late usage of earlier invoiced periods. Without `invoiceId` it is the preview of an invoice created now
 * (`usageSummary`); with it, the lines of exactly the usage that invoice has claimed (`createInvoice`). One code
 * path for both, so the preview equals the invoice. `latePeriods`: what `latePeriodsOf` answers for these arguments,
 * when the caller read it already (a preview reads it with its customer: `previewStanding`).
 */
export async function computeInvoiceLines(
  em: EntityManager,
  customerId: string,
  currency: string,
  period: BillingPeriod,
  invoiceId?: string,
  latePeriods?: string[],
): Promise<ComputedInvoice> {
  const own = await aggregateUsage(em, {
    customerId,
    currency,
    from: period.start,
    to: period.end,
    records: invoiceId ? { kind: 'billedOn', invoiceId } : { kind: 'forPeriod' },
  });
  const lines = usageLines(period, own, currency);

  const late = latePeriods ?? (await latePeriodsOf(em, customerId, period.start, invoiceId));
  for (const key of late) {
    const { start, end } = parsePeriod(key);
    const scope = { customerId, currency, from: start, to: end };
    // Late usage is priced as the continuation of its period: price(billed + this one's) − price(billed before).
    const all = await aggregateUsage(em, { ...scope, records: invoiceId ? { kind: 'billed' } : { kind: 'all' } });
    const billed = await aggregateUsage(em, { ...scope, records: { kind: 'billed', except: invoiceId } });
    lines.push(...adjustmentLines(parsePeriod(key), all, billed, currency));
  }

  return {
    period,
    currency,
    lines,
    subtotalMinor: sumMinor(lines.map((l) => l.amountMinor)),
    latePeriods: late,
  };
}
