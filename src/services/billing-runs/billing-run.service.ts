import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../config/clock';
import { systemClock } from '../../config/clock';
import type { AppConfig } from '../../config/config';
import type { Logger } from '../../config/logger';
import { backoffDelayMs } from '../../lib/backoff';
import { BillingRunItemStatus, BillingRunStatus, InvoiceStatus, Role } from '../../entities/enums';
import type { StripeGateway } from '../../stripe';
import { redactSecrets } from '../../stripe';
import { parsePeriod } from './billing-period';
import type { ClaimedItem, ItemOutcome, RunTrigger } from './billing-run-store';
import {
  claimItems,
  claimRun,
  completeIfFinished,
  finishItem,
  nextClaimableInMs,
  refreshTotals,
  releaseItems,
} from './billing-run-store';
import type { Caller } from '../customers/caller';
import { createInvoice } from '../invoicing/create-invoice.service';
import { getBillingRun } from './get-billing-run.service';
import { retryRateLimited } from '../shared/stripe-rate-limit-retry';
import type { BillingRunProgress } from './get-billing-run.service';

/** How long a worker waits, in real time, for another worker's claim of a due item to commit. */
const CONTENDED_CLAIM_PAUSE_MS = 20;

/** A real-time pause that a stop ends at once. */
async function realPause(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
}

export interface BillingRunDeps {
  /** A root or request EntityManager; the run forks its own. */
  em: EntityManager;
  gateway: StripeGateway;
  config: Pick<AppConfig, 'billing'>;
  log?: Logger;
  /**
   * Which periods have ended, invoice dates, and every wait: retries, leases, Stripe 429 backoff. Default: the system
   * clock; tests pass one set to the day after a period, or one they move by hand.
   */
  clock?: Clock;
}

export interface RunBillingOptions {
  /** Recorded when this call creates or reopens the run: `scheduler`, `cli` or `api` (default). */
  trigger?: RunTrigger['trigger'];
  /** With `api`: the user id of the admin who asked. */
  triggeredBy?: string | null;
  /** Reopen a completed run to retry its failures and bill customers that appeared since. Default true. */
  rerun?: boolean;
  /**
   * Customers invoiced at the same time by this instance when the run starts. Stripe pacing is the gateway's rate
   * limiter; while its budget goes unused (the workers spend their time on the database, or waiting on Stripe's
   * answers, rather than on the limiter) the run adds workers, up to `maxConcurrency`.
   */
  concurrency?: number;
  /** The most customers invoiced at once by this instance, however much of Stripe's budget is unused; default 64. */
  maxConcurrency?: number;
  /** Items claimed per round trip. */
  batchSize?: number;
  /** Attempts per item within one run before it is `failed` (a re-run tries again). */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt (`backoffDelayMs`, `src/lib/backoff.ts`). */
  retryDelayMs?: number;
  /** How long a claimed item belongs to this instance; an instance that dies loses its items when it expires. */
  leaseMs?: number;
  /** Retries of a Stripe call answered 429 before the item counts as failed for this attempt; default 5. */
  rateLimitRetries?: number;
  /** Wait for items leased by other instances (or by a crashed one) instead of leaving them to their owner. */
  waitForOthers?: boolean;
  signal?: AbortSignal;
  /** Called once the run is claimed (and its items exist), before any customer is invoiced. */
  onStarted?: (runId: string) => void;
  onProgress?: (progress: BillingRunProgress) => void;
}

export type RunBillingResult =
  | { kind: 'period_not_ended'; period: string }
  | { kind: 'completed'; run: BillingRunProgress }
  /** Work remains with other instances, or the run was stopped; progress as this instance left it. */
  | { kind: 'in_progress'; run: BillingRunProgress };

/** The most customers one instance invoices at once by default, however much of Stripe's budget is unused. */
export const MAX_CONCURRENCY = 64;
/** The longest cycle of one Stripe call with its database work the run sizes its workers for. */
const CALL_CYCLE_SECONDS = 0.5;

/** The billing run acts as a service, so `createInvoice` may invoice any customer. */
export const BILLING_RUN_CALLER: Caller = { userId: 'system:billing-run', role: Role.SERVICE };

/**
 * Bills every customer with usage in an ended period and no live invoice for it, through `createInvoice`. The run is
 * claimed once per period; its per-customer items are claimed by any number of instances with SKIP LOCKED, so a run
 * interrupted anywhere (crash, deploy) is finished by the next call and nobody is invoiced twice (`createInvoice` is
 * idempotent per customer and period, and resumes a DRAFT left half-way).
 */
export async function runBilling(
  deps: BillingRunDeps,
  periodKey: string,
  options: RunBillingOptions = {},
): Promise<RunBillingResult> {
  const period = parsePeriod(periodKey);
  const clock = deps.clock ?? systemClock;
  const now = (): Date => new Date(clock.now());
  if (clock.now() < period.end.getTime()) {
    return { kind: 'period_not_ended', period: period.key };
  }
  const log = deps.log?.child({ component: 'billing-run', period: period.key });
  const rerun = options.rerun ?? true;
  const run = await deps.em.fork().transactional((tem) =>
    claimRun(tem, period, {
      trigger: options.trigger ?? 'api',
      triggeredBy: options.triggeredBy,
      rerun,
      now: now(),
    }),
  );
  if (run.status === BillingRunStatus.COMPLETED) {
    return { kind: 'completed', run: (await getBillingRun(deps.em.fork(), period.key)) as BillingRunProgress };
  }
  log?.info({ runId: run.id, created: run.created }, 'billing run working');
  options.onStarted?.(run.id);

  const settings = {
    concurrency: Math.max(1, options.concurrency ?? 4),
    maxConcurrency: Math.max(1, options.concurrency ?? 4, options.maxConcurrency ?? MAX_CONCURRENCY),
    batchSize: Math.max(1, options.batchSize ?? 5),
    maxAttempts: Math.max(1, options.maxAttempts ?? 3),
    retryDelayMs: options.retryDelayMs ?? 1000,
    leaseMs: options.leaseMs ?? 120_000,
  };
  const gateway = retryRateLimited(deps.gateway, { retries: options.rateLimitRetries ?? 5, clock });
  const report = async (): Promise<void> => {
    await refreshTotals(deps.em.fork(), run.id);
    if (options.onProgress) {
      options.onProgress((await getBillingRun(deps.em.fork(), period.key)) as BillingRunProgress);
    }
  };

  const processItem = async (item: ClaimedItem): Promise<ItemOutcome> => {
    const retry = (error: string, invoiceId?: string): ItemOutcome =>
      item.attempts < settings.maxAttempts
        ? {
            status: BillingRunItemStatus.PENDING,
            error,
            invoiceId,
            retryInMs: backoffDelayMs({ baseMs: settings.retryDelayMs }, item.attempts - 1),
          }
        : { status: BillingRunItemStatus.FAILED, error, invoiceId };
    try {
      const outcome = await createInvoice(
        { em: deps.em.fork(), gateway, config: deps.config, now: now() },
        BILLING_RUN_CALLER,
        { period: period.key, userId: item.userId },
      );
      switch (outcome.kind) {
        case 'invoice':
          return outcome.invoice.status === InvoiceStatus.DRAFT
            ? retry('Invoice is still a DRAFT', outcome.invoice.id)
            : { status: BillingRunItemStatus.DONE, invoiceId: outcome.invoice.id };
        case 'no_usage':
          return { status: BillingRunItemStatus.SKIPPED, error: 'No billable usage (nothing to charge)' };
        case 'period_not_ended':
          return { status: BillingRunItemStatus.FAILED, error: `Period ${outcome.period} has not ended` };
        case 'cancelled':
          // Someone cancelled it on purpose; billing the usage again at once would undo that.
          return {
            status: BillingRunItemStatus.SKIPPED,
            error: 'Cancelled while it was being created',
            invoiceId: outcome.invoice.id,
          };
        default:
          return retry(outcome.message, outcome.invoice.id);
      }
    } catch (error) {
      return retry(redactSecrets(error instanceof Error ? error.message : String(error)));
    }
  };

  // A stop ends the workers' waits at once. They listen on one signal of the run's own, which follows the caller's
  // with a single listener: up to one wait per worker on it at a time is expected, not a leak.
  const stopWaiting = new AbortController();
  setMaxListeners(settings.maxConcurrency, stopWaiting.signal);
  const stop = (): void => stopWaiting.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) {
    stop();
  }

  const worker = async (): Promise<void> => {
    while (!options.signal?.aborted) {
      const batch = await claimItems(deps.em.fork(), run.id, settings.batchSize, settings.leaseMs, now());
      if (batch.length === 0) {
        const waitMs = await nextClaimableInMs(deps.em.fork(), run.id, options.waitForOthers ?? false, now());
        if (waitMs === null) {
          return;
        }
        if (waitMs === 0) {
          // Due but not claimable: another worker's claim (FOR UPDATE SKIP LOCKED) holds it until its statement
          // commits. That takes real time, not the run's time: on a clock that stands still (a test's) a sleep here
          // never ended and the run hung. A short real pause, then claim again.
          await realPause(CONTENDED_CLAIM_PAUSE_MS, stopWaiting.signal);
          continue;
        }
        await clock.sleep(Math.min(waitMs, 1000), { signal: stopWaiting.signal });
        continue;
      }
      for (const [index, item] of batch.entries()) {
        if (options.signal?.aborted) {
          await releaseItems(
            deps.em.fork(),
            run.id,
            batch.slice(index).map((i) => i.id),
          );
          break;
        }
        const outcome = await processItem(item);
        if (outcome.status !== BillingRunItemStatus.DONE) {
          log?.warn({ userId: item.userId, attempt: item.attempts, outcome }, 'billing run item not done');
        }
        await finishItem(deps.em.fork(), item.id, outcome, now());
        grow();
      }
      await report();
    }
  };

  // Keep enough requests in flight: each customer is a chain of Stripe calls with database work between them, so a
  // few workers leave the limiter idle whenever all of them are between calls (at 100 requests/s a worker would need
  // a whole call, answer and database work included, every 40 ms). While the limiter has budget nobody waits for
  // when an item ends, and no worker has run out of work yet, another worker starts, up to one per 0.5 s of the
  // limiter's pace (a generous call-and-database cycle; a run starved of CPU also leaves budget idle, and more
  // workers would not help it but stretch every item towards its lease).
  const workers: Array<Promise<void>> = [];
  let outOfWork = false;
  const start = (): void => {
    workers.push(
      worker().finally(() => {
        outOfWork = true;
      }),
    );
  };
  const grow = (): void => {
    const useful = Math.ceil(deps.gateway.requestsPerSecond * CALL_CYCLE_SECONDS);
    if (
      !outOfWork &&
      workers.length < Math.min(settings.maxConcurrency, useful) &&
      deps.gateway.hasIdleBudget() === true
    ) {
      start();
    }
  };
  for (let i = 0; i < settings.concurrency; i += 1) {
    start();
  }
  // A worker that fails (the database went away…) leaves its items to lease expiry; the others finish first.
  for (let settled = 0; settled < workers.length;) {
    settled = workers.length;
    await Promise.allSettled(workers.slice());
  }
  const ended = await Promise.allSettled(workers);
  options.signal?.removeEventListener('abort', stop);
  const failure = ended.find((e): e is PromiseRejectedResult => e.status === 'rejected');
  if (failure) {
    throw failure.reason;
  }
  const completed = await completeIfFinished(deps.em.fork(), run.id, now());
  const progress = (await getBillingRun(deps.em.fork(), period.key)) as BillingRunProgress;
  options.onProgress?.(progress);
  if (completed) {
    log?.info({ total: progress.total, done: progress.done, failed: progress.failed }, 'billing run completed');
  }
  return { kind: progress.status === BillingRunStatus.COMPLETED ? 'completed' : 'in_progress', run: progress };
}
