import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingRunItemStatus } from '../../entities/enums';
import type { BillingRunStatus } from '../../entities/enums';
import { parsePeriod } from './billing-period';
import { countItemsByStatus, findRun, listItemFailures } from './billing-run-store';

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
  status: `${BillingRunStatus}`;
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

const date = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));

/** The run of a period with live progress, or null when the period has no run. */
export async function getBillingRun(em: EntityManager, period: string): Promise<BillingRunProgress | null> {
  const key = parsePeriod(period).key;
  const run = await findRun(em, key);
  if (!run) {
    return null;
  }
  const counts = await countItemsByStatus(em, run.id);
  const count = (status: BillingRunItemStatus): number => Number(counts.find((c) => c.status === status)?.n ?? 0);
  const failures = await listItemFailures(em, run.id, 100);
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
    pending: count(BillingRunItemStatus.PENDING),
    processing: count(BillingRunItemStatus.PROCESSING),
    done: count(BillingRunItemStatus.DONE),
    failed: count(BillingRunItemStatus.FAILED),
    skipped: count(BillingRunItemStatus.SKIPPED),
    failures: failures.map((f) => ({
      customerId: f.customer_id,
      userId: f.user_id,
      status: f.status,
      attempts: Number(f.attempts),
      error: f.error,
    })),
  };
}
