import type { EntityManager } from '@mikro-orm/postgresql';
import { parsePeriod, previousPeriod } from './billing-period';
import { hasUnbilledUsage, hasUsageAfterCompletedRun } from './billing-run-store';

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
    if (await hasUnbilledUsage(em.fork(), parsePeriod(key))) {
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
  return hasUsageAfterCompletedRun(em.fork(), parsePeriod(periodKey));
}
