import type { EntityManager } from '@mikro-orm/postgresql';
import { currencyExponent } from '../../config/currencies';
import { InvoiceStatus, PaymentAttemptStatus, Role } from '../../entities/enums';
import { parsePeriod } from '../billing-runs/billing-period';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { BadInputError } from '../shared/errors';
import { sqlList, sqlText } from '../shared/sql-values';

/** The numbers of one period and currency, for people: what was invoiced, what came in, what is still owed. */
export interface BillingStats {
  period: string;
  currency: string;
  /** Invoices issued for the period (every status but DRAFT and VOID). */
  invoiceCount: number;
  invoicedMinor: bigint;
  paidCount: number;
  paidMinor: bigint;
  /** Still owed on OPEN, PROCESSING, REQUIRES_ACTION and PAYMENT_FAILED invoices. */
  outstandingMinor: bigint;
  /** Written off (UNCOLLECTIBLE). */
  uncollectibleMinor: bigint;
  /** Refunded on the period's invoices: 0 until refunds exist in this server. */
  refundedMinor: bigint;
  /** Succeeded ÷ (succeeded + declined) over the payment attempts on the period's invoices; null without any. */
  paymentSuccessRate: number | null;
  /** Mean days from finalising to payment over the paid invoices; null when none is paid. */
  averageDaysToPay: number | null;
  /** Invoiced amounts by metric (lines without a metric, such as adjustments, under `null`), largest first. */
  revenueByMetric: Array<{ metricCode: string | null; amountMinor: bigint }>;
}

const ISSUED = [
  InvoiceStatus.OPEN,
  InvoiceStatus.PROCESSING,
  InvoiceStatus.REQUIRES_ACTION,
  InvoiceStatus.PAYMENT_FAILED,
  InvoiceStatus.PAID,
  InvoiceStatus.UNCOLLECTIBLE,
];
const OWED = [
  InvoiceStatus.OPEN,
  InvoiceStatus.PROCESSING,
  InvoiceStatus.REQUIRES_ACTION,
  InvoiceStatus.PAYMENT_FAILED,
];

/** Admins and services: three statements over the period's issued invoices in one currency. */
export async function getBillingStats(
  em: EntityManager,
  caller: Caller,
  input: { period: string; currency: string },
): Promise<BillingStats> {
  requireRole(caller, Role.ADMIN, Role.SERVICE);
  const period = parsePeriod(input.period).key;
  const currency = input.currency.toLowerCase();
  try {
    currencyExponent(currency);
  } catch {
    throw new BadInputError(
      `currency must be a supported ISO 4217 code such as "usd" (got "${input.currency}")`,
      'currency',
    );
  }
  const issued = `i.period = ? and i.currency = ? and i.status in (${sqlList(...ISSUED)})`;
  const [totals] = await em.execute<
    Array<{
      invoice_count: string;
      invoiced: string | null;
      paid_count: string;
      paid: string | null;
      outstanding: string | null;
      uncollectible: string | null;
      days_to_pay: string | null;
    }>
  >(
    `select count(*) as invoice_count,
            sum(i.total_minor) as invoiced,
            count(*) filter (where i.status = ${sqlText(InvoiceStatus.PAID)}) as paid_count,
            sum(i.amount_paid_minor) filter (where i.status = ${sqlText(InvoiceStatus.PAID)}) as paid,
            sum(i.total_minor - i.amount_paid_minor) filter (where i.status in (${sqlList(...OWED)})) as outstanding,
            sum(i.total_minor - i.amount_paid_minor)
              filter (where i.status = ${sqlText(InvoiceStatus.UNCOLLECTIBLE)}) as uncollectible,
            avg(extract(epoch from i.paid_at - i.finalized_at) / 86400)
              filter (where i.status = ${sqlText(InvoiceStatus.PAID)} and i.paid_at is not null
                        and i.finalized_at is not null) as days_to_pay
       from invoices i where ${issued}`,
    [period, currency],
  );
  const [attempts] = await em.execute<Array<{ succeeded: string; declined: string }>>(
    `select count(*) filter (where a.status = ${sqlText(PaymentAttemptStatus.SUCCEEDED)}) as succeeded,
            count(*) filter (where a.status = ${sqlText(PaymentAttemptStatus.DECLINED)}) as declined
       from payment_attempts a join invoices i on i.id = a.invoice_id where ${issued}`,
    [period, currency],
  );
  const byMetric = await em.execute<Array<{ code: string | null; amount: string }>>(
    `select m.code, sum(l.amount_minor) as amount
       from invoice_lines l join invoices i on i.id = l.invoice_id left join billable_metrics m on m.id = l.metric_id
      where ${issued}
      group by m.code order by sum(l.amount_minor) desc, m.code`,
    [period, currency],
  );
  const succeeded = Number(attempts.succeeded);
  const declined = Number(attempts.declined);
  return {
    period,
    currency,
    invoiceCount: Number(totals.invoice_count),
    invoicedMinor: BigInt(totals.invoiced ?? 0),
    paidCount: Number(totals.paid_count),
    paidMinor: BigInt(totals.paid ?? 0),
    outstandingMinor: BigInt(totals.outstanding ?? 0),
    uncollectibleMinor: BigInt(totals.uncollectible ?? 0),
    refundedMinor: 0n,
    paymentSuccessRate: succeeded + declined === 0 ? null : succeeded / (succeeded + declined),
    averageDaysToPay: totals.days_to_pay === null ? null : Number(totals.days_to_pay),
    revenueByMetric: byMetric.map((row) => ({ metricCode: row.code, amountMinor: BigInt(row.amount) })),
  };
}
