import type { EntityManager } from '@mikro-orm/postgresql';
import { parsePeriod, previousPeriod } from './billing-period';

/**
 * What the billing scheduler's catch-up looks for: usage on no invoice of its period (none, only VOID ones, or a
 * DRAFT left half-way) that a completed run did not bill. Earlier months are checked once per due period
 * (`missedPeriods`); the due month itself on every tick (`usageArrivedAfterRun`).
 */

/**
 * Of the `months` periods before `due`, oldest first, those where some customer has usage that is on no invoice of
 * that period: the customers a run would bill now. A customer whose item in that period's run was skipped (nothing
 * billable, e.g. no price in force) does not count again until more of their usage arrives.
 */
export async function missedPeriods(em: EntityManager, due: string, months: number): Promise<string[]> {
  const candidates: string[] = [];
  let cursor = parsePeriod(due);
  for (let i = 0; i < months; i += 1) {
    cursor = previousPeriod(cursor);
    candidates.unshift(cursor.key);
  }
  const missed: string[] = [];
  for (const key of candidates) {
    const period = parsePeriod(key);
    const [row] = await em.fork().execute<Array<{ missed: boolean }>>(
      `select exists (select 1 from usage_records u
                      where u.occurred_at >= ? and u.occurred_at < ?
                        and not exists (select 1 from invoices i
                                        where i.customer_id = u.customer_id and i.period = ?
                                          and i.status not in ('VOID', 'DRAFT'))
                        and not exists (select 1 from billing_run_items it
                                        join billing_runs r on r.id = it.run_id
                                        where r.period = ? and it.customer_id = u.customer_id
                                          and it.status = 'skipped' and it.updated_at >= u.received_at)) as missed`,
      [period.start, period.end, key, key],
    );
    if (row?.missed) {
      missed.push(key);
    }
  }
  return missed;
}

/**
 * Whether usage of `periodKey`, whose run has completed, arrived after the run last looked at its customer and is on
 * no invoice of the period: a customer that run did not invoice, who should be billed at the next tick rather than
 * at the next month's catch-up. "Last looked" is the customer's item's last update, or the run's (re)start for a
 * customer with no item (then it had nothing to bill, or a live invoice). Usage the run already saw does not count,
 * so a customer whose invoice was cancelled since, or whose item failed or had nothing billable, is not billed
 * again on every tick: they wait for more usage, the next month's catch-up or an operator, as before. Usage whose
 * transaction began before that moment and committed after it counts only for the catch-up. Cheap enough for every
 * tick: only usage received since the run's start is read (index on `received_at`).
 */
export async function usageArrivedAfterRun(em: EntityManager, periodKey: string): Promise<boolean> {
  const period = parsePeriod(periodKey);
  const [row] = await em.fork().execute<Array<{ arrived: boolean }>>(
    `select exists (
       select 1
       from billing_runs r
       join usage_records u on u.received_at > r.started_at
       left join billing_run_items it on it.run_id = r.id and it.customer_id = u.customer_id
       where r.period = ? and r.status = 'completed'
         and u.occurred_at >= ? and u.occurred_at < ?
         and (it.id is null or u.received_at > it.updated_at)
         and not exists (select 1 from invoices i
                         where i.customer_id = u.customer_id and i.period = ? and i.status not in ('VOID', 'DRAFT'))
     ) as arrived`,
    [period.key, period.start, period.end, period.key],
  );
  return Boolean(row?.arrived);
}
