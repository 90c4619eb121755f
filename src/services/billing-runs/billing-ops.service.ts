import type { EntityManager } from '@mikro-orm/postgresql';
import { Role } from '../../entities/enums';
import { runBilling } from './billing-run.service';
import type { BillingRunDeps } from './billing-run.service';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { DomainError } from '../shared/errors';
import { parsePeriod } from './billing-period';
import type { BillingRunFeed, BillingRunWatch } from './billing-run-feed';
import { getBillingRun, listBillingRuns } from './get-billing-run.service';
import type { BillingRunPage, BillingRunProgress } from './get-billing-run.service';
import { reconcile } from '../reconciliation/reconcile-invoices.service';
import type { ReconcileReport } from '../reconciliation/reconcile-invoices.service';

/** Billing operations for API callers (the CLI calls the services directly): the role is checked here. */

export function billingRunFor(em: EntityManager, caller: Caller, period: string): Promise<BillingRunProgress | null> {
  requireRole(caller, Role.ADMIN, Role.SERVICE);
  return getBillingRun(em, period);
}

/** Billing runs, newest period first, with their progress (admins and services). */
export function billingRunsFor(
  em: EntityManager,
  caller: Caller,
  input: { first?: number | null; after?: string | null },
): Promise<BillingRunPage> {
  requireRole(caller, Role.ADMIN, Role.SERVICE);
  return listBillingRuns(em, input);
}

/**
 * The live progress of a period's run (admins and services, as `billingRun`): the progress now, then each change,
 * from whichever instance runs it. A period without a run yet sends its first snapshot when one starts.
 */
export function watchBillingRun(feed: BillingRunFeed, caller: Caller, period: string): Promise<BillingRunWatch> {
  requireRole(caller, Role.ADMIN, Role.SERVICE);
  return feed.watch(parsePeriod(period).key);
}

export type StartBillingRunOutcome =
  { kind: 'run'; run: BillingRunProgress } | { kind: 'period_not_ended'; period: string };

/**
 * Starts (or joins, or re-runs) a period's billing run (admins). Answers once the run is claimed, with its progress;
 * the customers are invoiced in the background unless `wait` is set. Progress: `billingRun(period)`.
 */
export function startBillingRun(
  deps: BillingRunDeps,
  caller: Caller,
  input: { period: string; wait?: boolean },
): Promise<StartBillingRunOutcome> {
  requireRole(caller, Role.ADMIN);
  return new Promise<StartBillingRunOutcome>((resolve, reject) => {
    const answer = (runId: string | null): void => {
      getBillingRun(deps.em.fork(), input.period).then(
        (run) => (run ? resolve({ kind: 'run', run }) : reject(new Error(`Billing run ${runId ?? ''} vanished`))),
        reject,
      );
    };
    const finished = runBilling(deps, input.period, {
      trigger: 'api',
      triggeredBy: caller.userId,
      onStarted: input.wait ? undefined : (runId) => answer(runId),
    });
    finished.then(
      (result) => {
        if (result.kind === 'period_not_ended') {
          resolve(result);
        } else {
          resolve({ kind: 'run', run: result.run });
        }
      },
      (error: unknown) => {
        // A caller's mistake (a malformed period) is answered, not logged as a failure of the run.
        if (!(error instanceof DomainError)) {
          deps.log?.error({ err: error, period: input.period }, 'billing run failed');
        }
        reject(error);
      },
    );
  });
}

/** Reconciles a period with Stripe (admins); `dryRun` reports without changing anything. */
export function reconcileFor(
  deps: BillingRunDeps,
  caller: Caller,
  input: { period: string; dryRun?: boolean },
): Promise<ReconcileReport> {
  requireRole(caller, Role.ADMIN);
  return reconcile(deps, input);
}
