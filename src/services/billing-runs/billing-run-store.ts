import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingRunItemStatus, BillingRunStatus, InvoiceStatus } from '../../entities/enums';
import { recordOutgoingEvent } from '../outgoing-webhooks/outbox';
import { sqlList, sqlText } from '../shared/sql-values';
import type { BillingPeriod } from './billing-period';

/**
 * SQL of the billing run's tables (`billing_runs`, `billing_run_items`). Every statement is a single set-based
 * statement, or runs through the transactional manager it is given (PGlite has one connection).
 *
 * An item's schedule (`next_attempt_at`, `lease_until`) is written and compared in the run's clock (`now`
 * arguments), never the database's, so a test that moves the run's clock moves its retries and leases; the other
 * timestamps record when things happened, in database time. Statuses come from the enums (`sqlText`).
 */

const RUNNING = sqlText(BillingRunStatus.RUNNING);
const COMPLETED = sqlText(BillingRunStatus.COMPLETED);
const PENDING = sqlText(BillingRunItemStatus.PENDING);
const PROCESSING = sqlText(BillingRunItemStatus.PROCESSING);
const DONE = sqlText(BillingRunItemStatus.DONE);
const FAILED = sqlText(BillingRunItemStatus.FAILED);
const SKIPPED = sqlText(BillingRunItemStatus.SKIPPED);
/** An invoice that bills its period: anything but VOID, or a DRAFT left half-way. */
const NOT_BILLED = sqlList(InvoiceStatus.VOID, InvoiceStatus.DRAFT);

export interface ClaimedRun {
  id: string;
  status: BillingRunStatus;
  created: boolean;
}

export interface ClaimedItem {
  id: string;
  attempts: number;
  customerId: string;
  userId: string;
}

/** What starts or reopens a run: the scheduler, an operator's CLI command, or an admin's API call (their user id). */
export interface RunTrigger {
  trigger: 'scheduler' | 'cli' | 'api';
  triggeredBy?: string | null;
}

/**
 * Claims the period's run once: the first caller inserts it, later callers find it (and wait for the first one's
 * transaction, so they see its items). `rerun` reopens a completed run and queues its failed items again; the run
 * then records who reopened it and when, since that pass is theirs. Joining a running run changes neither. Eligible
 * customers (usage in the period, and no invoice other than VOID or a DRAFT left half-way) get an item, or have theirs
 * queued again when it was done (the invoice it made was voided since) or skipped before more usage arrived.
 */
export async function claimRun(
  tem: EntityManager,
  period: BillingPeriod,
  options: RunTrigger & { rerun: boolean; now: Date },
): Promise<ClaimedRun> {
  const triggeredBy = options.triggeredBy ?? null;
  const inserted = await tem.execute<Array<{ id: string }>>(
    `insert into billing_runs
       (id, period, status, trigger, triggered_by, started_at, heartbeat_at, created_at, updated_at)
     values (gen_random_uuid(), ?, ${RUNNING}, ?, ?, now(), now(), now(), now())
     on conflict (period) do nothing
     returning id`,
    [period.key, options.trigger, triggeredBy],
  );
  const [run] = await tem.execute<Array<{ id: string; status: BillingRunStatus }>>(
    `select id, status from billing_runs where period = ? for update`,
    [period.key],
  );
  if (run.status === BillingRunStatus.COMPLETED) {
    if (!options.rerun) {
      return { ...run, created: false };
    }
    await tem.execute(
      `update billing_runs set status = ${RUNNING}, trigger = ?, triggered_by = ?, started_at = now(),
         finished_at = null, heartbeat_at = now(), updated_at = now()
       where id = ?`,
      [options.trigger, triggeredBy, run.id],
    );
    await tem.execute(
      `update billing_run_items set status = ${PENDING}, attempts = 0, next_attempt_at = ?, updated_at = now()
       where run_id = ? and status = ${FAILED}`,
      [options.now, run.id],
    );
  }
  await tem.execute(
    `insert into billing_run_items (id, run_id, customer_id, status, attempts, next_attempt_at, created_at, updated_at)
     select gen_random_uuid(), ?, c.id, ${PENDING}, 0, ?, now(), now()
     from customers c
     where exists (select 1 from usage_records u
                   where u.customer_id = c.id and u.occurred_at >= ? and u.occurred_at < ?)
       and not exists (select 1 from invoices i
                       where i.customer_id = c.id and i.period = ? and i.status not in (${NOT_BILLED}))
     on conflict (run_id, customer_id) do update
       set status = ${PENDING}, attempts = 0, next_attempt_at = excluded.next_attempt_at, lease_until = null, error = null,
           invoice_id = null, updated_at = now()
       -- Eligible again: its invoice was voided since (done), or usage arrived after it had nothing billable
       -- (skipped). A skipped customer with no new usage stays skipped.
       where billing_run_items.status = ${DONE}
          or (billing_run_items.status = ${SKIPPED}
              and exists (select 1 from usage_records u
                          where u.customer_id = excluded.customer_id and u.occurred_at >= ? and u.occurred_at < ?
                            and u.received_at > billing_run_items.updated_at))`,
    [run.id, options.now, period.start, period.end, period.key, period.start, period.end],
  );
  await refreshTotals(tem, run.id);
  return { id: run.id, status: BillingRunStatus.RUNNING, created: inserted.length > 0 };
}

/**
 * Claims up to `limit` items due at `now` (pending and due, or processing with an expired lease: its instance died)
 * with `FOR UPDATE SKIP LOCKED`, so instances take disjoint items; each is leased for `leaseMs`. A claim changes the
 * progress (pending → processing), so it is announced in the same statement like every other change: unannounced,
 * a subscriber saw it only if some earlier change's read happened to come after it.
 */
export async function claimItems(
  em: EntityManager,
  runId: string,
  limit: number,
  leaseMs: number,
  now: Date,
): Promise<ClaimedItem[]> {
  const rows = await em.execute<Array<{ id: string; attempts: number; customer_id: string; user_id: string }>>(
    `with picked as (
       select id from billing_run_items
       where run_id = ?
         and ((status = ${PENDING} and next_attempt_at <= ?) or (status = ${PROCESSING} and lease_until < ?))
       order by next_attempt_at, id
       limit ?
       for update skip locked),
     claimed as (
       update billing_run_items i
       set status = ${PROCESSING}, attempts = i.attempts + 1, updated_at = now(), lease_until = ?
       from picked, customers c
       where i.id = picked.id and c.id = i.customer_id
       returning i.id, i.attempts, i.customer_id, c.external_user_id as user_id),
     ${ANNOUNCED_IF_CHANGED}
     select claimed.* from claimed left join announced on true`,
    [runId, now, now, limit, new Date(now.getTime() + leaseMs), runId],
  );
  return rows.map((r) => ({ id: r.id, attempts: Number(r.attempts), customerId: r.customer_id, userId: r.user_id }));
}

export type ItemOutcome =
  | { status: BillingRunItemStatus.DONE; invoiceId: string }
  | { status: BillingRunItemStatus.SKIPPED; error: string; invoiceId?: string }
  | { status: BillingRunItemStatus.FAILED; error: string; invoiceId?: string }
  | { status: BillingRunItemStatus.PENDING; error: string; retryInMs: number; invoiceId?: string };

/** Records an item's outcome at `now`; `pending` schedules another attempt. */
export async function finishItem(em: EntityManager, itemId: string, outcome: ItemOutcome, now: Date): Promise<void> {
  await em.execute(
    `update billing_run_items
     set status = ?::billing_run_item_status, error = ?, invoice_id = coalesce(?, invoice_id), lease_until = null,
         next_attempt_at = ?, updated_at = now()
     where id = ?`,
    [
      outcome.status,
      outcome.status === BillingRunItemStatus.DONE ? null : outcome.error,
      outcome.invoiceId ?? null,
      new Date(now.getTime() + (outcome.status === BillingRunItemStatus.PENDING ? outcome.retryInMs : 0)),
      itemId,
    ],
  );
}

/** Gives claimed items back untouched (the run was asked to stop), and announces it. */
export async function releaseItems(em: EntityManager, runId: string, itemIds: string[]): Promise<void> {
  if (itemIds.length > 0) {
    await em.execute(
      `with claimed as (
         update billing_run_items set status = ${PENDING}, attempts = greatest(attempts - 1, 0), lease_until = null
         where id in (${itemIds.map(() => '?').join(', ')}) and status = ${PROCESSING}
         returning id),
       ${ANNOUNCED_IF_CHANGED}
       select count(*) from announced`,
      [...itemIds, runId],
    );
  }
}

/**
 * Milliseconds from `now` until an item may become claimable: the earliest pending retry, or (with `includeLeased`)
 * the earliest lease held by someone else. Null when nothing is left to wait for.
 */
export async function nextClaimableInMs(
  em: EntityManager,
  runId: string,
  includeLeased: boolean,
  now: Date,
): Promise<number | null> {
  const [row] = await em.execute<Array<{ at: Date | string | null }>>(
    `select min(case when status = ${PENDING} then next_attempt_at else lease_until end) as at
     from billing_run_items
     where run_id = ? and (status = ${PENDING} or (?::boolean and status = ${PROCESSING}))`,
    [runId, includeLeased],
  );
  return row?.at === null || row?.at === undefined ? null : Math.max(0, new Date(row.at).getTime() - now.getTime());
}

const TOTALS = `select count(*)::int as total,
    count(*) filter (where status = ${DONE})::int as done,
    count(*) filter (where status = ${FAILED})::int as failed,
    count(*) filter (where status = ${SKIPPED})::int as skipped,
    count(*) filter (where status in (${PENDING}, ${PROCESSING}))::int as open
  from billing_run_items where run_id = ?`;

/**
 * The channel on which every change of a run's progress is announced (payload: its period), in the statement that
 * makes the change: delivered when it commits, to every instance (`BillingRunFeed`), whichever instance or CLI ran it.
 */
export const BILLING_RUN_CHANNEL = 'billing_run_progress';

/**
 * A CTE `announced` that NOTIFYs the run's period (parameter: the run id) when the CTE `claimed` changed any item.
 * A statement must read `announced` for it to run (PostgreSQL skips unread plain CTEs).
 */
const ANNOUNCED_IF_CHANGED = `announced as (
       select pg_notify('${BILLING_RUN_CHANNEL}', trim(r.period)) from billing_runs r
       where r.id = ? and exists (select 1 from claimed))`;

/** Copies the item counts onto the run, beats its heartbeat and announces the progress. */
export async function refreshTotals(em: EntityManager, runId: string): Promise<void> {
  await em.execute(
    `with updated as (
       update billing_runs r set total = s.total, done = s.done, failed = s.failed, skipped = s.skipped,
         heartbeat_at = now(), updated_at = now()
       from (${TOTALS}) s where r.id = ?
       returning r.period)
     select pg_notify('${BILLING_RUN_CHANNEL}', trim(period)) from updated`,
    [runId, runId],
  );
}

/**
 * Marks the run completed once no item is pending or processing; true if this call completed it. The completion and
 * its `billing_run.completed` event (the outbox), stamped `at` on the run's clock, commit together.
 */
export async function completeIfFinished(em: EntityManager, runId: string, at: Date): Promise<boolean> {
  return em.transactional(async (tem) => {
    const rows = await tem.execute<
      Array<{ id: string; period: string; total: number; done: number; failed: number; skipped: number }>
    >(
      `with completed as (
         update billing_runs r set status = ${COMPLETED}, finished_at = now(), heartbeat_at = now(), updated_at = now(),
           total = s.total, done = s.done, failed = s.failed, skipped = s.skipped
         from (${TOTALS}) s
         where r.id = ? and r.status = ${RUNNING} and s.open = 0
         returning r.id, r.period, r.total, r.done, r.failed, r.skipped)
       select id, trim(period) as period, total, done, failed, skipped, pg_notify('${BILLING_RUN_CHANNEL}', trim(period))
       from completed`,
      [runId, runId],
    );
    const [run] = rows;
    if (!run) {
      return false;
    }
    await recordOutgoingEvent(tem, {
      type: 'billing_run.completed',
      orderingKey: `billing_run:${run.period}`,
      data: {
        billingRun: {
          id: run.id,
          period: run.period,
          total: Number(run.total),
          done: Number(run.done),
          failed: Number(run.failed),
          skipped: Number(run.skipped),
        },
      },
      at,
    });
    return true;
  });
}

/** Periods other than `exceptKey` whose run is still running (its instance may have died mid-way), oldest first. */
export async function runningPeriodsExcept(em: EntityManager, exceptKey: string): Promise<string[]> {
  const rows = await em.execute<Array<{ period: string }>>(
    `select period from billing_runs where status = ${RUNNING} and period <> ? order by period`,
    [exceptKey],
  );
  return rows.map((row) => row.period.trim());
}

/** The status of the period's run, or null when it has none. */
export async function runStatusOf(em: EntityManager, periodKey: string): Promise<BillingRunStatus | null> {
  const [row] = await em.execute<Array<{ status: BillingRunStatus }>>(
    `select status from billing_runs where period = ?`,
    [periodKey],
  );
  return row?.status ?? null;
}

/**
 * Whether some customer has usage in `period` that is on no invoice of it (none, only VOID ones, or a DRAFT left
 * half-way), not counting a customer whose item in that period's run was skipped after their last usage arrived.
 */
export async function hasUnbilledUsage(em: EntityManager, period: BillingPeriod): Promise<boolean> {
  const [row] = await em.execute<Array<{ missed: boolean }>>(
    `select exists (select 1 from usage_records u
                    where u.occurred_at >= ? and u.occurred_at < ?
                      and not exists (select 1 from invoices i
                                      where i.customer_id = u.customer_id and i.period = ?
                                        and i.status not in (${NOT_BILLED}))
                      and not exists (select 1 from billing_run_items it
                                      join billing_runs r on r.id = it.run_id
                                      where r.period = ? and it.customer_id = u.customer_id
                                        and it.status = ${SKIPPED} and it.updated_at >= u.received_at)) as missed`,
    [period.start, period.end, period.key, period.key],
  );
  return Boolean(row?.missed);
}

/**
 * Whether usage of `period`, whose run has completed, arrived after the run last looked at its customer (the item's
 * last update, or the run's (re)start for a customer with no item) and is on no invoice of the period.
 */
export async function hasUsageAfterCompletedRun(em: EntityManager, period: BillingPeriod): Promise<boolean> {
  const [row] = await em.execute<Array<{ arrived: boolean }>>(
    `select exists (
       select 1
       from billing_runs r
       join usage_records u on u.received_at > r.started_at
       left join billing_run_items it on it.run_id = r.id and it.customer_id = u.customer_id
       where r.period = ? and r.status = ${COMPLETED}
         and u.occurred_at >= ? and u.occurred_at < ?
         and (it.id is null or u.received_at > it.updated_at)
         and not exists (select 1 from invoices i
                         where i.customer_id = u.customer_id and i.period = ? and i.status not in (${NOT_BILLED}))
     ) as arrived`,
    [period.key, period.start, period.end, period.key],
  );
  return Boolean(row?.arrived);
}

export interface RunRow {
  id: string;
  period: string;
  status: BillingRunStatus;
  trigger: string;
  triggered_by: string | null;
  started_at: Date | string;
  heartbeat_at: Date | string;
  finished_at: Date | string | null;
}

/** Runs newest period first, at most `limit`, those before `beforePeriod` when given (keyset on the period). */
export async function listRuns(em: EntityManager, limit: number, beforePeriod: string | null): Promise<RunRow[]> {
  return em.execute<RunRow[]>(
    `select id, trim(period) as period, status, trigger, triggered_by, started_at, heartbeat_at, finished_at
     from billing_runs where (?::text is null or period < ?)
     order by period desc
     limit ?`,
    [beforePeriod, beforePeriod, limit],
  );
}

/** How many runs there are. */
export async function countRuns(em: EntityManager): Promise<number> {
  const [row] = await em.execute<Array<{ n: number }>>(`select count(*)::int as n from billing_runs`);
  return Number(row?.n ?? 0);
}

/** The period's run row, or undefined. */
export async function findRun(em: EntityManager, periodKey: string): Promise<RunRow | undefined> {
  const [run] = await em.execute<RunRow[]>(
    `select id, period, status, trigger, triggered_by, started_at, heartbeat_at, finished_at
     from billing_runs where period = ?`,
    [periodKey],
  );
  return run;
}

/** The runs' items counted by run and status (statuses without items are absent). */
export async function countItemsByStatus(
  em: EntityManager,
  runIds: string[],
): Promise<Array<{ run_id: string; status: BillingRunItemStatus; n: number }>> {
  if (runIds.length === 0) {
    return [];
  }
  return em.execute<Array<{ run_id: string; status: BillingRunItemStatus; n: number }>>(
    `select run_id, status, count(*)::int as n from billing_run_items
     where run_id = any(?::uuid[]) group by run_id, status`,
    [uuidArray(runIds)],
  );
}

/** A Postgres array literal of checked UUIDs (an array binding would be spread into a list). */
function uuidArray(ids: string[]): string {
  return `{${ids.join(',')}}`;
}

export interface ItemFailureRow {
  customer_id: string;
  user_id: string;
  status: BillingRunItemStatus;
  attempts: number;
  error: string;
}

/** Per run, failed items and items waiting for a retry, with their reason, oldest update first, at most `limit` each. */
export async function listItemFailures(
  em: EntityManager,
  runIds: string[],
  limit: number,
): Promise<Array<ItemFailureRow & { run_id: string }>> {
  if (runIds.length === 0) {
    return [];
  }
  return em.execute<Array<ItemFailureRow & { run_id: string }>>(
    `select run_id, customer_id, user_id, status, attempts, error
     from (select i.run_id, i.customer_id, c.external_user_id as user_id, i.status, i.attempts, i.error,
                  i.updated_at, i.id,
                  row_number() over (partition by i.run_id order by i.updated_at, i.id) as n
           from billing_run_items i join customers c on c.id = i.customer_id
           where i.run_id = any(?::uuid[]) and i.error is not null and i.status in (${FAILED}, ${PENDING})) f
     where n <= ?
     order by run_id, updated_at, id`,
    [uuidArray(runIds), limit],
  );
}
