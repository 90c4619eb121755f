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
   ), keyed as (
     -- The conflict rule: an event is stored only if its key is new. The keys live apart from the events (a unique
     -- index on the month-partitioned events would have to hold occurred_at, and a retry with another timestamp
     -- would be stored twice); a concurrent batch with the same key waits here for the first one's outcome.
     insert into usage_idempotency_keys (customer_id, idempotency_key)
     select customer_id, idempotency_key from incoming
     on conflict (customer_id, idempotency_key) do nothing
     returning customer_id, idempotency_key
   ), stored as (
     insert into usage_records (customer_id, metric_id, quantity, occurred_at, idempotency_key, agent_id, metadata)
     select i.customer_id, i.metric_id, i.quantity, i.occurred_at, i.idempotency_key, i.agent_id, i.metadata
     from incoming i join keyed k on k.customer_id = i.customer_id and k.idempotency_key = i.idempotency_key
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
 * invoice other than VOID. One insert statement, part of the caller's transaction. The months of the batch must have
 * their partitions (`ensureUsagePartitions`, before the transaction: creating one locks the table).
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

const UNBILLED = `'${UNBILLED_BUCKET}'::uuid`;

/**
 * The invoice that billed the event `alias` (a row of `usage_records`), or null: the claim of its customer and period
 * whose id range holds it. For the reads that need events one by one (distinct counts, days a price changes within).
 */
export const billedOnSql = (alias: string): string =>
  `(select bc.invoice_id from usage_billing_claims bc
    where bc.customer_id = ${alias}.customer_id and bc.period_start <= ${alias}.occurred_at
      and ${alias}.occurred_at < bc.period_end and ${alias}.id between bc.first_id and bc.last_id)`;

/** The rollup rows (alias `r`) of the days of a range (alias `g`, `period_start`/`period_end` at UTC midnight). */
const ROLLUP_IN_RANGE = `r.day >= (g.period_start at time zone 'UTC')::date and r.day < (g.period_end at time zone 'UTC')::date`;

/** Folds rollup rows (`moved`) into the bucket `?`: a day already in that bucket adds them up. */
const MERGE_INTO_BUCKET = `insert into usage_rollups as r
       (customer_id, metric_id, day, bucket, events, quantity_sum, quantity_max, first_at)
     select customer_id, metric_id, day, ?::uuid, events, quantity_sum, quantity_max, first_at from moved
     order by 1, 2, 3
     on conflict (customer_id, metric_id, day, bucket) do update set
       events = r.events + excluded.events,
       quantity_sum = r.quantity_sum + excluded.quantity_sum,
       quantity_max = greatest(r.quantity_max, excluded.quantity_max),
       first_at = least(r.first_at, excluded.first_at)`;

/**
 * Puts on `invoiceId` the customer's unbilled usage of its period, and unbilled late usage of earlier periods that
 * have an invoice other than VOID (ended by the period's start); part of the caller's transaction. Nothing is written
 * per event: each period taken gets claims over the id ranges no claim covers yet, up to the last id handed out, and
 * its unbilled day rollups move to the invoice's bucket. One statement after the customer's lock.
 *
 * Why the last id handed out bounds the claim: the customer's update lock waits for every batch in flight for the
 * customer (they hold a key-share lock from before their insert), so all of the customer's events with smaller ids
 * are committed and visible; a batch that comes later takes its ids after this transaction, larger than that bound.
 */
export async function billUsageOnInvoice(
  tem: EntityManager,
  input: { invoiceId: string; customerId: string; periodStart: Date; periodEnd: Date },
): Promise<void> {
  await lockCustomerUsage(tem, input.customerId);
  const { invoiceId, customerId, periodStart, periodEnd } = input;
  await tem.execute(
    `with ranges as (
       select ?::timestamptz as period_start, ?::timestamptz as period_end
       union
       select i.period_start, i.period_end from invoices i
       where i.customer_id = ? and i.status <> ${VOID} and i.id <> ? and i.period_end <= ?
     ), open_ranges as (
       select g.* from ranges g
       where exists (select 1 from usage_rollups r
                     where r.customer_id = ? and r.bucket = ${UNBILLED} and ${ROLLUP_IN_RANGE})
     ), handed_out as (
       select case when is_called then last_value else 0 end as last_id from usage_records_id_seq
     ), claimed as (
       select c.period_start, c.first_id, c.last_id from usage_billing_claims c
       join open_ranges g on g.period_start = c.period_start and g.period_end = c.period_end
       where c.customer_id = ?
     ), gaps as (
       select period_start, coalesce(lag(last_id) over (partition by period_start order by first_id), 0) + 1 as lo,
              first_id - 1 as hi
       from claimed
       union all
       select g.period_start, coalesce((select max(c.last_id) from claimed c where c.period_start = g.period_start), 0) + 1,
              (select last_id from handed_out)
       from open_ranges g
     ), claims as (
       insert into usage_billing_claims (customer_id, period_start, period_end, first_id, last_id, invoice_id)
       select ?, g.period_start, o.period_end, g.lo, g.hi, ?
       from gaps g join open_ranges o on o.period_start = g.period_start
       where g.lo <= g.hi
     ), moved as (
       delete from usage_rollups r using open_ranges g
       where r.customer_id = ? and r.bucket = ${UNBILLED} and ${ROLLUP_IN_RANGE}
       returning r.*
     )
     ${MERGE_INTO_BUCKET}`,
    [
      periodStart,
      periodEnd,
      customerId,
      invoiceId,
      periodStart,
      customerId,
      customerId,
      customerId,
      invoiceId,
      customerId,
      invoiceId,
    ],
  );
}

/**
 * Unbills the usage an invoice carried (it was voided), for the next invoice: its claims go and its rollup buckets
 * fold back into the unbilled ones; part of the caller's transaction, one statement (the customer's lock first).
 */
export async function unbillUsageOfInvoice(em: EntityManager, invoiceId: string): Promise<void> {
  await em.execute(
    // The customer's lock is taken before anything moves (see lockCustomerUsage).
    `with locked as (
       select c.id from customers c join invoices i on i.customer_id = c.id where i.id = ? for update of c
     ), released as (
       delete from usage_billing_claims where invoice_id = ? and customer_id = (select id from locked)
     ), moved as (
       delete from usage_rollups where bucket = ? and customer_id = (select id from locked)
       returning *
     )
     ${MERGE_INTO_BUCKET}`,
    [invoiceId, invoiceId, invoiceId, UNBILLED_BUCKET],
  );
}

/**
 * Holds off ingestion for one customer until the caller's transaction ends, so that billing cannot miss (or count
 * twice) a batch committed meanwhile: a batch takes a key-share lock on each of its customers before writing anything
 * (`ensureCustomers`), which waits for this update lock, and this waits for batches in flight. Taken before anything
 * moves, so neither side ever waits while holding the other's rows.
 */
async function lockCustomerUsage(tem: EntityManager, customerId: string): Promise<void> {
  await tem.execute('select 1 from customers where id = ? for update', [customerId]);
}
