import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingRunStatus } from '../../entities/enums';
import { readBacklogFigures } from '../stripe-events/webhook-event-store';
import { sqlText } from '../shared/sql-values';

/** What `/metrics` reports from the database at each scrape: the same figures on every instance. */
export interface OperatingFigures {
  /** Invoices by status, in lower case (`open`, `paid`, …). */
  invoicesByStatus: Record<string, number>;
  webhookPending: number;
  webhookFailed: number;
  /** Seconds the oldest pending event has waited (database clock); 0 when none waits. */
  webhookOldestPendingAgeSeconds: number;
  /** Items of billing runs still running, by item status; empty when no run is running. */
  runningBillingRunItems: Record<string, number>;
  runningBillingRuns: number;
}

/** Three statements: invoices by status, the webhook backlog, the items of running billing runs. */
export async function readOperatingFigures(em: EntityManager): Promise<OperatingFigures> {
  const invoices = await em.execute<Array<{ status: string; count: string }>>(
    'select status, count(*) as count from invoices group by status',
  );
  const backlog = await readBacklogFigures(em);
  const items = await em.execute<Array<{ status: string; count: string; runs: string }>>(
    `select i.status, count(*) as count, count(distinct r.id) as runs
       from billing_run_items i join billing_runs r on r.id = i.run_id
      where r.status = ${sqlText(BillingRunStatus.RUNNING)}
      group by i.status`,
  );
  return {
    invoicesByStatus: Object.fromEntries(invoices.map((row) => [row.status.toLowerCase(), Number(row.count)])),
    webhookPending: Number(backlog.pending_count),
    webhookFailed: Number(backlog.failed_count),
    webhookOldestPendingAgeSeconds:
      backlog.oldest_pending_age === null ? 0 : Math.max(0, Number(backlog.oldest_pending_age)),
    runningBillingRunItems: Object.fromEntries(items.map((row) => [row.status, Number(row.count)])),
    runningBillingRuns: items.reduce((most, row) => Math.max(most, Number(row.runs)), 0),
  };
}
