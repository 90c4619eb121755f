import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingRunItemStatus } from '../../entities/enums';
import type { BillingRunStatus } from '../../entities/enums';
import { parsePeriod } from './billing-period';
import { BadInputError } from '../shared/errors';
import { countItemsByStatus, countRuns, findRun, listItemFailures, listRuns } from './billing-run-store';
import type { RunRow } from './billing-run-store';

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

/** Failures listed per run, at most. */
const FAILURES_PER_RUN = 100;

/** The run of a period with live progress, or null when the period has no run. */
export async function getBillingRun(em: EntityManager, period: string): Promise<BillingRunProgress | null> {
  const key = parsePeriod(period).key;
  const run = await findRun(em, key);
  return run ? ((await withProgress(em, [run]))[0] ?? null) : null;
}

export interface BillingRunPage {
  runs: BillingRunProgress[];
  hasNextPage: boolean;
  totalCount: number;
}

/**
 * Billing runs, newest period first, with their progress: `first` of them (1–50), after the run of period `after`
 * (the previous page's last). Three statements whatever the page's size.
 */
export async function listBillingRuns(
  em: EntityManager,
  input: { first?: number | null; after?: string | null },
): Promise<BillingRunPage> {
  const first = input.first ?? 12;
  if (!Number.isInteger(first) || first < 1 || first > 50) {
    throw new BadInputError('first must be between 1 and 50', 'first');
  }
  const after = input.after ? parsePeriod(input.after).key : null;
  const rows = await listRuns(em, first + 1, after);
  const runs = await withProgress(em, rows.slice(0, first));
  return { runs, hasNextPage: rows.length > first, totalCount: await countRuns(em) };
}

/** The runs' item counts and failures, read for all of them at once. */
async function withProgress(em: EntityManager, runs: RunRow[]): Promise<BillingRunProgress[]> {
  const ids = runs.map((run) => run.id);
  const counts = await countItemsByStatus(em, ids);
  const failures = await listItemFailures(em, ids, FAILURES_PER_RUN);
  return runs.map((run) => {
    const own = counts.filter((c) => c.run_id === run.id);
    const count = (status: BillingRunItemStatus): number => Number(own.find((c) => c.status === status)?.n ?? 0);
    return {
      id: run.id,
      period: run.period.trim(),
      status: run.status,
      trigger: run.trigger,
      triggeredBy: run.triggered_by,
      startedAt: date(run.started_at),
      heartbeatAt: date(run.heartbeat_at),
      finishedAt: run.finished_at ? date(run.finished_at) : null,
      total: own.reduce((sum, c) => sum + Number(c.n), 0),
      pending: count(BillingRunItemStatus.PENDING),
      processing: count(BillingRunItemStatus.PROCESSING),
      done: count(BillingRunItemStatus.DONE),
      failed: count(BillingRunItemStatus.FAILED),
      skipped: count(BillingRunItemStatus.SKIPPED),
      failures: failures
        .filter((f) => f.run_id === run.id)
        .map((f) => ({
          customerId: f.customer_id,
          userId: f.user_id,
          status: f.status,
          attempts: Number(f.attempts),
          error: f.error,
        })),
    };
  });
}
