import { systemClock } from '../../config/clock';
import type { SchedulerSettings } from '../../config/config';
import { BillingRunStatus } from '../../entities/enums';
import { missedPeriods, usageArrivedAfterRun } from './billing-catch-up';
import { parsePeriod, periodOf, previousPeriod } from './billing-period';
import { runningPeriodsExcept, runStatusOf } from './billing-run-store';
import { runBilling } from './billing-run.service';
import type { BillingRunDeps, RunBillingOptions, RunBillingResult } from './billing-run.service';

export interface BillingSchedulerOptions extends BillingRunDeps {
  /** Off: `start` returns a scheduler that never runs. */
  enabled?: boolean;
  /** Late usage still counts this long after a month ends; default one hour. */
  graceMs?: number;
  /** How often an instance checks for a due period (and joins a run in progress); default one minute. */
  intervalMs?: number;
  /**
   * Months before the due one that are billed again when they hold usage that is on no invoice of its period (the
   * scheduler was off or down when they fell due, or usage arrived after the period's run, for a customer it had
   * not invoiced). Checked at start and once each time a new period falls due; default 3, 0 = off. The due month
   * belongs to the catch-up too: usage that arrives after its run for a customer that run did not invoice is
   * billed at the next tick (`usageArrivedAfterRun`).
   */
  catchUpMonths?: number;
  /** Passed to every run (concurrency, batch size, retries). */
  run?: Omit<RunBillingOptions, 'trigger' | 'rerun' | 'signal'>;
}

export interface BillingScheduler {
  /**
   * Checks now: runs (or joins) the due period's billing. Never overlaps itself: while a check is under way (the
   * timer's or another caller's) it returns that one. Null when nothing was due.
   */
  tick(): Promise<RunBillingResult | null>;
  /** Stops the timer, asks a run in progress to hand back its claimed items, and waits for it. */
  stop(): Promise<void>;
}

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;
export const DEFAULT_SCHEDULER_INTERVAL_MS = 60 * 1000;
export const DEFAULT_CATCH_UP_MONTHS = 3;

/** The latest period whose end plus the grace period has passed at `now`. */
export function duePeriod(now: Date, graceMs = DEFAULT_GRACE_MS): string {
  return previousPeriod(periodOf(new Date(now.getTime() - graceMs))).key;
}

/**
 * After each month ends (plus the grace period) runs that month's billing once. Safe with any number of instances:
 * the run is claimed in the database (one row per period) and its items with SKIP LOCKED, so instances share the
 * work and a run left by a crashed instance is finished by the next tick of any instance. The due period's completed
 * run is reopened only for usage that arrived after it for a customer it did not invoice (`usageArrivedAfterRun`);
 * earlier periods (`catchUpMonths`) are re-run at start and when a new period falls due if they hold usage that is on
 * no invoice (see `missedPeriods`). A re-run also retries its failed items. Anything older is an operator's re-run
 * (`billing run --period`).
 */
export function startBillingScheduler(options: BillingSchedulerOptions): BillingScheduler {
  const {
    enabled = true,
    graceMs = DEFAULT_GRACE_MS,
    intervalMs = DEFAULT_SCHEDULER_INTERVAL_MS,
    catchUpMonths = DEFAULT_CATCH_UP_MONTHS,
  } = options;
  const log = options.log?.child({ component: 'billing-scheduler' });
  const clock = options.clock ?? systemClock;
  const controller = new AbortController();
  let current: Promise<RunBillingResult | null> | null = null;
  let loop: Promise<void> | undefined;
  /** The due period for which earlier periods were last checked (at start, then once per new due period). */
  let caughtUpFor: string | undefined;

  const check = async (): Promise<RunBillingResult | null> => {
    const period = duePeriod(new Date(clock.now()), graceMs);
    if (catchUpMonths > 0 && caughtUpFor !== period) {
      for (const missed of await missedPeriods(options.em, period, catchUpMonths)) {
        log?.warn({ period: missed }, 'billing an earlier period again: it holds usage that is on no invoice');
        await runPeriod(missed, true);
      }
      caughtUpFor = period;
    }
    // A run of an earlier period still running (its instance died mid-way, e.g. during a catch-up): join it, so
    // every tick finishes what a crashed instance left, not only the due period's.
    for (const key of await runningPeriodsExcept(options.em.fork(), parsePeriod(period).key)) {
      await runPeriod(key, false);
    }
    if ((await runStatusOf(options.em.fork(), parsePeriod(period).key)) !== BillingRunStatus.COMPLETED) {
      return runPeriod(period, false);
    }
    // The month just billed: usage that arrived since its run, for a customer it did not invoice, is billed now
    // rather than at the next month's catch-up.
    if (catchUpMonths > 0 && (await usageArrivedAfterRun(options.em, period))) {
      log?.warn({ period }, 'billing the due period again: usage arrived after its run for a customer it did not bill');
      return runPeriod(period, true);
    }
    return null;
  };

  /** `rerun`: reopen a completed run so it bills the customers that appeared since (and retries its failures). */
  const runPeriod = async (period: string, rerun: boolean): Promise<RunBillingResult> => {
    const result = await runBilling({ ...options, clock }, period, {
      ...options.run,
      trigger: 'scheduler',
      rerun,
      signal: controller.signal,
    });
    if (result.kind !== 'period_not_ended') {
      const { total, done, failed, skipped, status } = result.run;
      log?.info({ period, status, total, done, failed, skipped }, 'scheduled billing run checked');
    }
    return result;
  };

  const tick = (): Promise<RunBillingResult | null> => {
    if (controller.signal.aborted) {
      return Promise.resolve(null);
    }
    current ??= check()
      .catch((error: unknown) => {
        log?.error({ err: error }, 'scheduled billing run failed; the next tick resumes it');
        return null;
      })
      .finally(() => {
        current = null;
      });
    return current;
  };

  // A check at once, then one every interval of the clock after the previous one ended. unref: the scheduler alone
  // never keeps the process alive.
  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      await tick();
      await clock.sleep(intervalMs, { signal: controller.signal, unref: true });
    }
  };
  if (enabled) {
    loop = run();
    log?.info({ graceMs, intervalMs }, 'billing scheduler started');
  }

  return {
    tick: () => (enabled ? tick() : Promise.resolve(null)),
    async stop() {
      controller.abort();
      await loop;
      await current;
    },
  };
}

/** The scheduler options that the configuration's `BILLING_*` settings decide. */
export function billingSchedulerSettings(settings: SchedulerSettings): Required<
  Pick<BillingSchedulerOptions, 'enabled' | 'graceMs' | 'intervalMs' | 'catchUpMonths'>
> & {
  concurrency: number;
} {
  return {
    enabled: settings.enabled,
    graceMs: settings.graceMinutes * 60_000,
    intervalMs: settings.intervalSeconds * 1000,
    catchUpMonths: settings.catchUpMonths,
    concurrency: settings.concurrency,
  };
}
