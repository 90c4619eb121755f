import type { EntityManager } from '@mikro-orm/postgresql';
import { InvoiceStatus } from '../../entities/enums';
import type { MetricAggregation } from '../../entities/enums';
import { sqlText } from '../shared/sql-values';

/**
 * SQL of the usage aggregate (`usage_records`, and the metrics and customers ingestion needs), set-based. Statuses
 * come from the enums; every statement runs through the manager it is given (PGlite has one connection). The
 * aggregation queries that price a period live in `usage-aggregation.ts`.
 */

const VOID = sqlText(InvoiceStatus.VOID);

/** The active metrics, as ingestion validates events against them. */
export async function activeMetrics(
  tem: EntityManager,
): Promise<Array<{ id: string; code: string; aggregation: MetricAggregation }>> {
  return tem.execute<Array<{ id: string; code: string; aggregation: MetricAggregation }>>(
    'select id, code, aggregation from billable_metrics where active',
  );
}

/** Creates the customers first seen here, set-based, as `me` would create them. */
export async function ensureCustomers(
  tem: EntityManager,
  customers: Array<{ id: string; userId: string }>,
): Promise<void> {
  await tem.execute(
    `insert into customers (id, external_user_id)
     select (x->>'id')::uuid, x->>'userId' from jsonb_array_elements(?::jsonb) as x
     on conflict (external_user_id) do nothing`,
    [JSON.stringify(customers)],
  );
}

export interface IncomingUsage {
  user_id: string;
  metric_id: string;
  quantity: string;
  occurred_at: string;
  idempotency_key: string;
  agent_id: string | null;
  metadata: unknown;
}

/**
 * Inserts the events (a repeated customer + idempotency key inserts nothing) and answers, per inserted row, whether
 * it is late: it falls in a period that already has an invoice other than VOID.
 */
export async function insertUsageRecords(
  tem: EntityManager,
  events: IncomingUsage[],
): Promise<Array<{ late: boolean }>> {
  return tem.execute<Array<{ late: boolean }>>(
    `with incoming as (
       select c.id as customer_id, e.metric_id, e.quantity, e.occurred_at, e.idempotency_key, e.agent_id, e.metadata
       from jsonb_to_recordset(?::jsonb) as e(
         user_id text, metric_id uuid, quantity numeric, occurred_at timestamptz,
         idempotency_key text, agent_id text, metadata jsonb)
       join customers c on c.external_user_id = e.user_id
     ), stored as (
       insert into usage_records (customer_id, metric_id, quantity, occurred_at, idempotency_key, agent_id, metadata)
       select customer_id, metric_id, quantity, occurred_at, idempotency_key, agent_id, metadata from incoming
       on conflict (customer_id, idempotency_key) do nothing
       returning customer_id, occurred_at
     )
     select exists (
       select 1 from invoices i
       where i.customer_id = s.customer_id and i.status <> ${VOID}
         and s.occurred_at >= i.period_start and s.occurred_at < i.period_end
     ) as late
     from stored s`,
    [JSON.stringify(events)],
  );
}

/**
 * Puts on `invoiceId` the customer's unbilled usage of its period, and unbilled late usage of earlier periods that
 * have an invoice other than VOID (ended by the period's start); part of the caller's transaction.
 */
export async function billUsageOnInvoice(
  tem: EntityManager,
  input: { invoiceId: string; customerId: string; periodStart: Date; periodEnd: Date },
): Promise<void> {
  await tem.execute(
    `update usage_records set billed_on_invoice_id = ?
     where customer_id = ? and billed_on_invoice_id is null
       and ((occurred_at >= ? and occurred_at < ?)
         or exists (select 1 from invoices i
                    where i.customer_id = usage_records.customer_id and i.status <> ${VOID} and i.id <> ?
                      and i.period_end <= ?
                      and usage_records.occurred_at >= i.period_start
                      and usage_records.occurred_at < i.period_end))`,
    [input.invoiceId, input.customerId, input.periodStart, input.periodEnd, input.invoiceId, input.periodStart],
  );
}

/** Unbills the usage an invoice carried (it was voided), for the next invoice; part of the caller's transaction. */
export async function unbillUsageOfInvoice(em: EntityManager, invoiceId: string): Promise<void> {
  await em.execute('update usage_records set billed_on_invoice_id = null where billed_on_invoice_id = ?', [invoiceId]);
}
