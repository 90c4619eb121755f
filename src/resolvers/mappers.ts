import type { Price } from '../entities';
import { InvoiceStatus } from '../entities/enums';
import type { InvoiceRecord } from '../services/invoicing/invoice-read-model';
import type { InvoiceType } from '../schema/invoice.types';
import { AUTHENTICATION_REQUIRED_REASON, paymentErrorReason } from '../services/payments/payment-error';
import { formatDecimalAmount, minorToDecimalString } from '../services/shared/money';
import type { UsageSummary } from '../services/usage/usage-summary.service';
import type { MoneyType } from '../schema/money.type';
import type { PriceType } from '../schema/price.types';
import type { UsageSummaryType } from '../schema/usage.types';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** bigint minor units → the GraphQL Money shape. Amounts beyond 2^53 cannot be sent as a JSON number: refuse. */
export function toMoney(amountMinor: bigint, currency: string): MoneyType {
  if (amountMinor > MAX_SAFE || amountMinor < MIN_SAFE) {
    throw new RangeError('Amount exceeds the safe integer range');
  }
  const amount = minorToDecimalString(amountMinor, currency);
  return { amountMinor: Number(amountMinor), currency, amount, formatted: formatDecimalAmount(amount, currency) };
}

export function toUsageSummary(summary: UsageSummary): UsageSummaryType {
  return {
    userId: summary.userId,
    period: summary.period.key,
    periodStart: summary.period.start,
    periodEnd: summary.period.end,
    currency: summary.currency,
    lines: summary.lines.map((line) => ({
      kind: line.kind,
      metric: { code: line.metricCode, name: line.metricName, unit: line.unit },
      usagePeriod: line.usagePeriod,
      description: line.description,
      quantity: line.quantity,
      billableQuantity: line.billableQuantity,
      unitAmount: line.unitAmount,
      amount: toMoney(line.amountMinor, summary.currency),
      unpriced: line.unpriced,
    })),
    subtotal: toMoney(summary.subtotalMinor, summary.currency),
    latePeriods: summary.latePeriods,
    generatedAt: summary.generatedAt,
  };
}

/** Trailing zeros of numeric(30,12) columns are noise to a reader: "0.020000000000" → "0.02". */
function trimDecimal(value: string | null | undefined): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  return value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
}

export function toPrice(price: Price): PriceType {
  return {
    id: price.id,
    metric: price.metric,
    currency: price.currency,
    userId: price.customer?.externalUserId ?? null,
    model: price.model,
    unitAmount: trimDecimal(price.unitAmount),
    packageSize: trimDecimal(price.packageSize),
    tiers:
      price.tiers?.map((t) => ({ upTo: t.upTo, unitAmount: t.unitAmount, flatAmount: t.flatAmount ?? null })) ?? null,
    freeAllowance: trimDecimal(price.freeAllowance) ?? '0',
    effectiveFrom: price.effectiveFrom,
    effectiveTo: price.effectiveTo ?? null,
    createdBy: price.createdBy ?? null,
    createdAt: price.createdAt,
  };
}

/**
 * Nothing remains on a settled invoice: VOID, or PAID (which Stripe may settle for less than its amount: one below
 * the currency's minimum charge is carried to the customer's balance in Stripe and paid with their next invoice).
 */
function amountRemainingMinor(invoice: InvoiceRecord): bigint {
  if (invoice.status === InvoiceStatus.VOID || invoice.status === InvoiceStatus.PAID) {
    return 0n;
  }
  const left = invoice.totalMinor - invoice.amountCreditedMinor - invoice.amountPaidMinor;
  return left > 0n ? left : 0n;
}

/** An invoice as GraphQL serves it; every reader (page, single invoice, mutation results, the feed) maps here. */
export function toInvoice(invoice: InvoiceRecord): InvoiceType {
  const currency = invoice.currency;
  return {
    id: invoice.id,
    number: invoice.number,
    userId: invoice.userId,
    status: invoice.status,
    period: invoice.period,
    amount: toMoney(invoice.totalMinor, currency),
    amountPaid: toMoney(invoice.amountPaidMinor, currency),
    amountRemaining: toMoney(amountRemainingMinor(invoice), currency),
    amountRefunded: toMoney(invoice.amountRefundedMinor, currency),
    amountCredited: toMoney(invoice.amountCreditedMinor, currency),
    creditNotes: invoice.creditNotes.map((note) => ({
      id: note.id,
      number: note.number,
      kind: note.kind,
      status: note.status,
      amount: toMoney(note.amountMinor, currency),
      refunded: toMoney(note.refundedMinor, currency),
      reason: note.reason,
      lines: note.lines.map((l) => ({
        description: l.description,
        amount: toMoney(l.amountMinor, currency),
        invoiceLineId: l.invoiceLineId,
      })),
      createdAt: note.createdAt,
    })),
    dueDate: invoice.dueDate,
    paymentUrl: invoice.paymentUrl,
    pdfUrl: invoice.pdfUrl,
    isPaid: invoice.status === InvoiceStatus.PAID,
    lines: invoice.lines.map((line) => ({
      id: line.id,
      kind: line.kind,
      metric: line.metric,
      description: line.description,
      quantity: line.quantity,
      billableQuantity: line.billableQuantity,
      unitAmount: line.unitAmount,
      amount: toMoney(line.amountMinor, currency),
    })),
    statusHistory: invoice.history,
    voidReason: invoice.voidReason,
    createdAt: invoice.createdAt,
    paidAt: invoice.paidAt,
    lastPaymentError: invoice.lastPaymentError
      ? { ...invoice.lastPaymentError, reason: paymentErrorReason(invoice.lastPaymentError) }
      : null,
    requiredAction:
      invoice.status === InvoiceStatus.REQUIRES_ACTION
        ? { kind: 'THREE_D_SECURE', message: AUTHENTICATION_REQUIRED_REASON, url: invoice.paymentUrl }
        : null,
  };
}
