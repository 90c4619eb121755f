import type { EntityManager } from '@mikro-orm/postgresql';
import { parsePeriod } from './billing-period';

export interface BillingRunFailure {
  customerId: string;
  userId: string;
  /** `failed`, or `pending` while a retry is scheduled. */
  status: string;
  attempts: number;
  error: string;
}

/** A billing run as an operator sees it while it runs; counts come from the items themselves. */
export interface BillingRunProgress {
  id: string;
  period: string;
  status: 'running' | 'completed';
  /** What started it, or last reopened it: `scheduler`, `cli` or `api`. */
  trigger: string;
  /** The admin's user id when `trigger` is `api`. */
  triggeredBy: string | null;
  startedAt: Date;
  heartbeatAt: Date;
  finishedAt: Date | null;
  total: number;
  pending: number;
  processing: number;
  done: number;
  failed: number;
  skipped: number;
  /** Failed items (and items waiting for a retry) with the reason, at most 100. */
  failures: BillingRunFailure[];
}

interface RunRow {
  id: string;
  period: string;
  status: 'running' | 'completed';
  trigger: string;
  triggered_by: string | null;
  started_at: Date | string;
  heartbeat_at: Date | string;
  finished_at: Date | string | null;
}

const date = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

/** The run of a period with live progress, or null when the period has no run. */
export async function getBillingRun(em: EntityManager, period: string): Promise<BillingRunProgress | null> {
  const key = parsePeriod(period).key;
  const [run] = await em.execute<RunRow[]>(
    `select id, period, status, trigger, triggered_by, started_at, heartbeat_at, finished_at
     from billing_runs where period = ?`,
    [key],
  );
  if (!run) {
    return null;
  }
  const counts = await em.execute<Array<{ status: string; n: number }>>(
    `select status, count(*)::int as n from billing_run_items where run_id = ? group by status`,
    [run.id],
  );
  const count = (status: string): number => Number(counts.find((c) => c.status === status)?.n ?? 0);
  const failures = await em.execute<
    Array<{ customer_id: string; user_id: string; status: string; attempts: number; error: string }>
  >(
    `select i.customer_id, c.external_user_id as user_id, i.status, i.attempts, i.error
     from billing_run_items i join customers c on c.id = i.customer_id
     where i.run_id = ? and i.error is not null and i.status in ('failed', 'pending')
     order by i.updated_at, i.id
     limit 100`,
    [run.id],
  );
  return {
    id: run.id,
    period: run.period,
    status: run.status,
    trigger: run.trigger,
    triggeredBy: run.triggered_by,
    startedAt: date(run.started_at),
    heartbeatAt: date(run.heartbeat_at),
    finishedAt: run.finished_at ? date(run.finished_at) : null,
    total: counts.reduce((sum, c) => sum + Number(c.n), 0),
    pending: count('pending'),
    processing: count('processing'),
    done: count('done'),
    failed: count('failed'),
    skipped: count('skipped'),
    failures: failures.map((f) => ({
      customerId: f.customer_id,
      userId: f.user_id,
      status: f.status,
      attempts: Number(f.attempts),
      error: f.error,
    })),
  };
}
