import type { EntityManager } from '@mikro-orm/postgresql';
import { DunningState, InvoiceStatus, PaymentAttemptStatus } from '../../entities/enums';
import { sqlText } from '../shared/sql-values';

/**
 * SQL of the dunning aggregate (`dunning_schedules`): enrolment of unpaid invoices, leaving dunning, the claim of due
 * steps (`FOR UPDATE SKIP LOCKED` plus a lease, as billing run items) and the fenced finish of a step.
 */

const ACTIVE = sqlText(DunningState.ACTIVE);
/** An invoice in these statuses may get a dunning step (PROCESSING waits: its outcome is not known yet). */
export const DUNNABLE = [InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.REQUIRES_ACTION] as const;
const DUNNABLE_SQL = DUNNABLE.map(sqlText).join(', ');
/** Statuses that take an invoice out of dunning at once. */
const SETTLED_SQL = [InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE].map(sqlText).join(', ');

export interface ClaimedStep {
  id: string;
  invoiceId: string;
  /** Steps finished before this one: the claimed step is `step + 1`. */
  step: number;
  remindedStep: number;
  startedAt: Date;
}

/**
 * Puts unpaid invoices into dunning, once each (the invoice id is unique): with `failure`, every PAYMENT_FAILED
 * invoice, starting now (the instance's clock: within one check interval of the failure); with `due_date`, every open
 * or failed invoice past its due date, starting at the due date. `firstDueAt` computes step 1's time in SQL.
 */
export async function enrollInvoices(
  em: EntityManager,
  start: 'failure' | 'due_date',
  firstRetryDays: number,
  now: Date,
): Promise<number> {
  const startedAt = start === 'failure' ? '?::timestamptz' : 'i.due_date';
  const where =
    start === 'failure'
      ? `i.status = ${sqlText(InvoiceStatus.PAYMENT_FAILED)}`
      : `i.status in (${sqlText(InvoiceStatus.OPEN)}, ${sqlText(InvoiceStatus.PAYMENT_FAILED)}) and i.due_date < ?::timestamptz`;
  const rows = await em.execute<Array<{ id: string }>>(
    `insert into dunning_schedules (id, invoice_id, state, started_at, step, next_attempt_at, created_at, updated_at)
     select gen_random_uuid(), i.id, ${ACTIVE}, ${startedAt}, 0,
            ${startedAt} + make_interval(days => ?::int), now(), now()
     from invoices i
     where ${where} and i.stripe_invoice_id is not null
     on conflict (invoice_id) do nothing
     returning id`,
    start === 'failure' ? [now.toISOString(), now.toISOString(), firstRetryDays] : [firstRetryDays, now.toISOString()],
  );
  return rows.length;
}

/** Ends dunning for invoices paid, voided or marked uncollectible since (by anyone): RECOVERED or CANCELED. */
export async function leaveSettledInvoices(em: EntityManager, now: Date): Promise<number> {
  const rows = await em.execute<Array<{ id: string }>>(
    `update dunning_schedules s
     set state = (case when i.status = ${sqlText(InvoiceStatus.PAID)} then ${sqlText(DunningState.RECOVERED)}
                  else ${sqlText(DunningState.CANCELED)} end)::dunning_state,
         next_attempt_at = null, lease_until = null, leased_by = null, ended_at = ?, updated_at = now()
     from invoices i
     where i.id = s.invoice_id and s.state = ${ACTIVE} and i.status in (${SETTLED_SQL})
     returning s.id`,
    [now],
  );
  return rows.length;
}

/**
 * Claims up to `limit` due steps for this instance until `now + leaseMs`: active, due, not leased (or leased by an
 * instance that did not finish in time), on an invoice that may still be dunned. SKIP LOCKED: instances take
 * disjoint steps.
 */
export async function claimDueSteps(
  em: EntityManager,
  input: { now: Date; leaseMs: number; instance: string; limit: number },
): Promise<ClaimedStep[]> {
  const rows = await em.execute<
    Array<{ id: string; invoice_id: string; step: number; reminded_step: number; started_at: Date | string }>
  >(
    `with picked as (
       select s.id from dunning_schedules s
       join invoices i on i.id = s.invoice_id
       where s.state = ${ACTIVE} and s.next_attempt_at <= ?
         and (s.lease_until is null or s.lease_until < ?)
         and i.status in (${DUNNABLE_SQL})
       order by s.next_attempt_at, s.id
       limit ?
       for update of s skip locked)
     update dunning_schedules s
     set lease_until = ?, leased_by = ?, updated_at = now()
     from picked
     where s.id = picked.id
     returning s.id, s.invoice_id, s.step, s.reminded_step, s.started_at`,
    [input.now, input.now, input.limit, new Date(input.now.getTime() + input.leaseMs), input.instance],
  );
  return rows.map((r) => ({
    id: r.id,
    invoiceId: r.invoice_id,
    step: Number(r.step),
    remindedStep: Number(r.reminded_step),
    startedAt: new Date(r.started_at),
  }));
}

/** Records that step `step`'s reminder went out, while this instance still holds the lease. */
export async function markReminded(em: EntityManager, id: string, instance: string, step: number): Promise<void> {
  await em.execute(
    `update dunning_schedules set reminded_step = ?, updated_at = now() where id = ? and leased_by = ?`,
    [step, id, instance],
  );
}

/**
 * Finishes step `step` and schedules the next (or ends dunning), only while this instance holds the lease and the
 * step is the one it claimed: false when another instance took over (the lease expired) and finished it.
 */
export async function finishStep(
  em: EntityManager,
  input: {
    id: string;
    instance: string;
    step: number;
    now: Date;
    outcome: string;
    state: DunningState;
    nextAttemptAt: Date | null;
  },
): Promise<boolean> {
  const rows = await em.execute<Array<{ id: string }>>(
    `update dunning_schedules
     set step = ?, last_attempt_at = ?, last_outcome = ?, state = ?::dunning_state, next_attempt_at = ?,
         ended_at = (case when ?::dunning_state = ${ACTIVE} then null else ?::timestamptz end),
         lease_until = null, leased_by = null, updated_at = now()
     where id = ? and leased_by = ? and step = ?
     returning id`,
    [
      input.step,
      input.now,
      input.outcome,
      input.state,
      input.nextAttemptAt,
      input.state,
      input.now,
      input.id,
      input.instance,
      input.step - 1,
    ],
  );
  return rows.length > 0;
}

/** The payment method to retry with: the one the customer last paid with, else the last one tried on this invoice. */
export async function retryPaymentMethod(em: EntityManager, invoiceId: string): Promise<string | null> {
  const [row] = await em.execute<Array<{ payment_method_id: string }>>(
    `select payment_method_id from (
       (select pa.payment_method_id, 0 as rank, pa.created_at from payment_attempts pa
        join invoices i on i.id = pa.invoice_id
        where i.customer_id = (select customer_id from invoices where id = ?) and pa.status = ${sqlText(PaymentAttemptStatus.SUCCEEDED)}
        order by pa.created_at desc limit 1)
       union all
       (select pa.payment_method_id, 1 as rank, pa.created_at from payment_attempts pa
        where pa.invoice_id = ? order by pa.created_at desc, pa.attempt_number desc limit 1)
     ) candidates order by rank limit 1`,
    [invoiceId, invoiceId],
  );
  return row?.payment_method_id ?? null;
}
