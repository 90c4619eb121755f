import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/postgresql';
import { from as copyFrom } from 'pg-copy-streams';
import { transactionConnection } from '../../entities/transaction-connection';
import { UNBILLED_BUCKET } from '../../entities/usage-rollup.entity';
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

/**
 * Creates the customers first seen here, set-based, as `me` would create them, then takes a key-share lock on every
 * customer of the batch (in id order) before any event is written; part of the caller's transaction. The lock lets a
 * batch run beside others and waits only for billing or voiding of one of its customers, which rebuilds that
 * customer's rollups under an update lock (`lockCustomerUsage`): taken up front, it never waits while holding rows.
 */
export async function ensureCustomers(
  tem: EntityManager,
  customers: Array<{ id: string; userId: string }>,
): Promise<void> {
  const connection = await transactionConnection(tem);
  await connection.query(
    `insert into customers (id, external_user_id)
     select * from unnest($1::uuid[], $2::text[])
     on conflict (external_user_id) do nothing`,
    [customers.map((c) => c.id), customers.map((c) => c.userId)],
  );
  await connection.query('select 1 from customers where external_user_id = any($1::text[]) order by id for key share', [
    customers.map((c) => c.userId),
  ]);
}

export interface IncomingUsage {
  userId: string;
  metricId: string;
  /** A validated decimal string. */
  quantity: string;
  /** ISO 8601, UTC. */
  occurredAt: string;
  idempotencyKey: string;
  agentId: string | null;
  metadata: Record<string, unknown> | null;
}

/**
 * How a batch reaches `usage_records`: `copy` streams it with `COPY … FROM STDIN` into a staging table (PostgreSQL);
 * `arrays` binds it as one array per column and reads them back with `unnest` (the embedded database, whose
 * wire protocol has no COPY FROM STDIN; it also runs on PostgreSQL, where the tests compare the two).
 */
export type UsageWritePath = 'copy' | 'arrays';

export function defaultUsageWritePath(tem: EntityManager): UsageWritePath {
  return tem.getDriver() instanceof PostgreSqlDriver ? 'copy' : 'arrays';
}

const INCOMING_COLUMNS = 'user_id, metric_id, quantity, occurred_at, idempotency_key, agent_id, metadata';

/** The one set-based write both paths share: the conflict rule, the customer join and the late count live here. */
const storeFrom = (source: string): string =>
  `with incoming as (
     select c.id as customer_id, e.metric_id, e.quantity, e.occurred_at, e.idempotency_key, e.agent_id, e.metadata
     from ${source}
     join customers c on c.external_user_id = e.user_id
   ), stored as (
     insert into usage_records (customer_id, metric_id, quantity, occurred_at, idempotency_key, agent_id, metadata)
     select customer_id, metric_id, quantity, occurred_at, idempotency_key, agent_id, metadata from incoming
     on conflict (customer_id, idempotency_key) do nothing
     returning customer_id, metric_id, quantity, occurred_at
   ), rolled_up as (
     -- The day rollups grow in the same statement (new events are unbilled); ordered so that concurrent batches
     -- lock shared rollup rows in one order.
     insert into usage_rollups as r (customer_id, metric_id, day, bucket, events, quantity_sum, quantity_max, first_at)
     select customer_id, metric_id, ${ROLLUP_DAY}, '${UNBILLED_BUCKET}'::uuid,
            count(*), sum(quantity), max(quantity), min(occurred_at)
     from stored group by 1, 2, 3 order by 1, 2, 3
     on conflict (customer_id, metric_id, day, bucket) do update set
       events = r.events + excluded.events,
       quantity_sum = r.quantity_sum + excluded.quantity_sum,
       quantity_max = greatest(r.quantity_max, excluded.quantity_max),
       first_at = least(r.first_at, excluded.first_at)
   )
   select count(*)::int as accepted,
          (count(*) filter (where exists (
            select 1 from invoices i
            where i.customer_id = s.customer_id and i.status <> ${VOID}
              and s.occurred_at >= i.period_start and s.occurred_at < i.period_end)))::int as late
   from stored s`;

/**
 * Inserts the events of one batch (distinct customer + idempotency key pairs; a pair already stored inserts nothing)
 * and answers how many were stored and how many of those are late: they fall in a period that already has an
 * invoice other than VOID. One insert statement, part of the caller's transaction.
 */
export async function insertUsageRecords(
  tem: EntityManager,
  events: IncomingUsage[],
  path: UsageWritePath = defaultUsageWritePath(tem),
): Promise<{ accepted: number; late: number }> {
  const connection = await transactionConnection(tem);
  let result: { rows: unknown[] };
  if (path === 'copy') {
    // A staging table without constraints takes the COPY; the insert from it applies the conflict rule.
    await connection.query(
      `create temp table usage_incoming (
         user_id text, metric_id uuid, quantity numeric, occurred_at timestamptz, idempotency_key text,
         agent_id text, metadata jsonb) on commit drop`,
    );
    const copy = (connection as unknown as CopyClient).query(
      copyFrom(`copy usage_incoming (${INCOMING_COLUMNS}) from stdin`),
    );
    await pipeline(Readable.from([copyText(events)]), copy);
    result = await connection.query(storeFrom('usage_incoming e'));
  } else {
    result = await connection.query(
      storeFrom(
        `unnest($1::text[], $2::uuid[], $3::numeric[], $4::timestamptz[], $5::text[], $6::text[], $7::jsonb[])
           as e(${INCOMING_COLUMNS})`,
      ),
      [
        events.map((e) => e.userId),
        events.map((e) => e.metricId),
        events.map((e) => e.quantity),
        events.map((e) => e.occurredAt),
        events.map((e) => e.idempotencyKey),
        events.map((e) => e.agentId),
        events.map((e) => (e.metadata === null ? null : JSON.stringify(e.metadata))),
      ],
    );
  }
  const [row] = result.rows as Array<{ accepted: number; late: number }>;
  return { accepted: Number(row.accepted), late: Number(row.late) };
}

interface CopyClient {
  query<T>(submittable: T): T;
}

/** A field of COPY's text format: backslash, tab, newline and carriage return escaped; `\N` is NULL. */
function copyField(value: string | null): string {
  return value === null ? '\\N' : value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]);
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function copyText(events: IncomingUsage[]): Buffer {
  const lines = events.map(
    (e) =>
      `${copyField(e.userId)}\t${e.metricId}\t${e.quantity}\t${e.occurredAt}\t${copyField(e.idempotencyKey)}\t` +
      `${copyField(e.agentId)}\t${copyField(e.metadata === null ? null : JSON.stringify(e.metadata))}\n`,
  );
  return Buffer.from(lines.join(''));
}

/** A usage record's UTC day, as `usage_rollups.day`. */
const ROLLUP_DAY = `(occurred_at at time zone 'UTC')::date`;

/**
 * Puts on `invoiceId` the customer's unbilled usage of its period, and unbilled late usage of earlier periods that
 * have an invoice other than VOID (ended by the period's start); part of the caller's transaction. The rollups of
 * the days it touched are rebuilt for their new buckets.
 */
export async function billUsageOnInvoice(
  tem: EntityManager,
  input: { invoiceId: string; customerId: string; periodStart: Date; periodEnd: Date },
): Promise<void> {
  await lockCustomerUsage(tem, input.customerId);
  const days = await tem.execute<RollupKey[]>(
    `with moved as (
       update usage_records set billed_on_invoice_id = ?
       where customer_id = ? and billed_on_invoice_id is null
         and ((occurred_at >= ? and occurred_at < ?)
           or exists (select 1 from invoices i
                      where i.customer_id = usage_records.customer_id and i.status <> ${VOID} and i.id <> ?
                        and i.period_end <= ?
                        and usage_records.occurred_at >= i.period_start
                        and usage_records.occurred_at < i.period_end))
       returning metric_id, occurred_at
     )
     select distinct metric_id, ${ROLLUP_DAY}::text as day from moved`,
    [input.invoiceId, input.customerId, input.periodStart, input.periodEnd, input.invoiceId, input.periodStart],
  );
  await rebuildRollups(tem, input.customerId, days);
}

/** Unbills the usage an invoice carried (it was voided), for the next invoice; part of the caller's transaction. */
export async function unbillUsageOfInvoice(em: EntityManager, invoiceId: string): Promise<void> {
  const days = await em.execute<Array<RollupKey & { customer_id: string }>>(
    // The customer's lock is taken by the same statement, before any event moves (see lockCustomerUsage).
    `with locked as (
       select c.id from customers c join invoices i on i.customer_id = c.id where i.id = ? for update of c
     ), moved as (
       update usage_records set billed_on_invoice_id = null
       where billed_on_invoice_id = ? and customer_id = (select id from locked)
       returning customer_id, metric_id, occurred_at
     )
     select distinct customer_id, metric_id, ${ROLLUP_DAY}::text as day from moved`,
    [invoiceId, invoiceId],
  );
  if (days.length > 0) {
    await rebuildRollups(em, days[0].customer_id, days);
  }
}

/**
 * Holds off ingestion for one customer until the caller's transaction ends, so that a rollup rebuilt from the
 * customer's events cannot miss (or count twice) a batch committed meanwhile: a batch takes a key-share lock on each
 * of its customers before writing anything (`ensureCustomers`), which waits for this update lock, and this waits for
 * batches in flight. Taken before any event moves, so neither side ever waits while holding the other's rows.
 */
async function lockCustomerUsage(tem: EntityManager, customerId: string): Promise<void> {
  await tem.execute('select 1 from customers where id = ? for update', [customerId]);
}

interface RollupKey {
  metric_id: string;
  day: string;
}

/** Recomputes a customer's rollups of the given metric days from their events, every bucket. */
async function rebuildRollups(tem: EntityManager, customerId: string, keys: RollupKey[]): Promise<void> {
  if (keys.length === 0) {
    return;
  }
  const params = [customerId, JSON.stringify(keys)];
  const keysSql = `select k.metric_id::uuid, k.day::date from jsonb_to_recordset(?::jsonb) as k(metric_id text, day text)`;
  await tem.execute(`delete from usage_rollups where customer_id = ? and (metric_id, day) in (${keysSql})`, params);
  await tem.execute(
    `insert into usage_rollups (customer_id, metric_id, day, bucket, events, quantity_sum, quantity_max, first_at)
     select customer_id, metric_id, ${ROLLUP_DAY}, coalesce(billed_on_invoice_id, '${UNBILLED_BUCKET}'::uuid),
            count(*), sum(quantity), max(quantity), min(occurred_at)
     from usage_records
     where customer_id = ? and (metric_id, ${ROLLUP_DAY}) in (${keysSql})
     group by 1, 2, 3, 4 order by 1, 2, 3, 4`,
    params,
  );
}
