import type { EntityManager } from '@mikro-orm/postgresql';
import { InvoiceStatus } from '../../entities/enums';
import { sqlText } from '../shared/sql-values';
import { UNBILLED_BUCKET } from '../../entities/usage-rollup.entity';

/**
 * SQL of the invoice aggregate (`invoices`, `invoice_number_sequences`) that the ORM's finders do not express.
 * Statuses come from `InvoiceStatus`; every statement runs through the manager it is given (inside a transaction,
 * its `tem`: PGlite has one connection). The invoice read path (`get-invoices.service.ts`) uses the ORM.
 */

const VOID = sqlText(InvoiceStatus.VOID);

/** The next number of the prefix's sequence for a period (1 for its first invoice); part of the caller's transaction. */
export async function nextInvoiceSequence(tem: EntityManager, prefix: string, periodKey: string): Promise<number> {
  const [{ last_value: sequence }] = await tem.execute<Array<{ last_value: number }>>(
    `insert into invoice_number_sequences (prefix, period, last_value) values (?, ?, 1)
     on conflict (prefix, period) do update set last_value = invoice_number_sequences.last_value + 1
     returning last_value`,
    [prefix, periodKey],
  );
  return sequence;
}

/**
 * Earlier periods of the customer, invoiced (not VOID) and ended by `before`, that hold usage not on their invoice:
 * usage on `invoiceId` when given (the lines of that invoice), otherwise usage on no invoice (a preview). Oldest first.
 */
export async function latePeriodsOf(
  em: EntityManager,
  customerId: string,
  before: Date,
  invoiceId?: string,
): Promise<string[]> {
  const rows = await em.execute<Array<{ period: string }>>(
    // The day rollups' buckets say where a period's usage is billed (usage-rollup.entity.ts).
    `select distinct i.period from invoices i
     where i.customer_id = ? and i.status <> ${VOID} and i.period_end <= ? and i.id <> ?
       and exists (select 1 from usage_rollups r
                   where r.customer_id = i.customer_id and r.bucket = ?
                     and r.day >= (i.period_start at time zone 'UTC')::date
                     and r.day < (i.period_end at time zone 'UTC')::date)
     order by i.period`,
    [customerId, before, invoiceId ?? UNBILLED_BUCKET, invoiceId ?? UNBILLED_BUCKET],
  );
  return rows.map((row) => row.period.trim());
}

/**
 * The end of the last period invoiced (not VOID) in `currency` with a line of `metricId`, for one customer or for
 * anyone (`customerId` null); null when there is none.
 */
export async function lastInvoicedPeriodEnd(
  em: EntityManager,
  scope: { currency: string; customerId: string | null; metricId: string },
): Promise<Date | null> {
  const { currency, customerId, metricId } = scope;
  const [row] = await em.execute<Array<{ until: Date | string | null }>>(
    `select max(i.period_end) as until from invoices i
     where i.status <> ${VOID} and i.currency = ? ${customerId ? 'and i.customer_id = ?' : ''}
       and exists (select 1 from invoice_lines l where l.invoice_id = i.id and l.metric_id = ?)`,
    customerId ? [currency, customerId, metricId] : [currency, metricId],
  );
  return row?.until ? new Date(row.until) : null;
}

/** Of the given Stripe invoice ids and our invoice ids, those that name an invoice of ours (both ids of each). */
export async function knownInvoiceIds(em: EntityManager, stripeIds: string[], ourIds: string[]): Promise<Set<string>> {
  const known = await em.execute<Array<{ id: string; stripe_invoice_id: string | null }>>(
    `select id::text as id, stripe_invoice_id from invoices
     where stripe_invoice_id in (${stripeIds.map(() => '?').join(', ')})
        or id::text in (${ourIds.map(() => '?').join(', ')})`,
    [...stripeIds, ...ourIds],
  );
  return new Set(known.flatMap((k) => [k.id, k.stripe_invoice_id].filter((id): id is string => id !== null)));
}
