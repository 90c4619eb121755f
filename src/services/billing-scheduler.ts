import type { SchedulerSettings } from '../config/config';
import { parsePeriod, periodOf, previousPeriod } from './billing-period';
import { runBilling } from './billing-run.service';
import type { BillingRunDeps, RunBillingOptions, RunBillingResult } from './billing-run.service';

export interface BillingSchedulerOptions extends BillingRunDeps {
  /** Off: `start` returns a scheduler that never runs. */
  enabled?: boolean;
  /** Late usage still counts this long after a month ends; default one hour. */
  graceMs?: number;
  /** How often an instance checks for a due period (and joins a run in progress); default one minute. */
  intervalMs?: number;
  /** Passed to every run (concurrency, batch size, retries). */
  run?: Omit<RunBillingOptions, 'trigger' | 'rerun' | 'signal'>;
}

export interface BillingScheduler {
  /** Checks now: runs (or joins) the due period's billing. Never overlaps itself; null when nothing was due. */
  tick(): Promise<RunBillingResult | null>;
  /** Stops the timer, asks a run in progress to hand back its claimed items, and waits for it. */
  stop(): Promise<void>;
}

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;
export const DEFAULT_SCHEDULER_INTERVAL_MS = 60 * 1000;

/** The latest period whose end plus the grace period has passed at `now`. */
export function duePeriod(now: Date, graceMs = DEFAULT_GRACE_MS): string {
  return previousPeriod(periodOf(new Date(now.getTime() - graceMs))).key;
}

/**
 * After each month ends (plus the grace period) runs that month's billing once. Safe with any number of instances:
 * the run is claimed in the database (one row per period) and its items with SKIP LOCKED, so instances share the
 * work and a run left by a crashed instance is finished by the next tick of any instance. A completed run is never
 * started again by the scheduler: retrying its failures is an operator's re-run (`billing run --period`).
 */
export function startBillingScheduler(options: BillingSchedulerOptions): BillingScheduler {
  const { enabled = true, graceMs = DEFAULT_GRACE_MS, intervalMs = DEFAULT_SCHEDULER_INTERVAL_MS } = options;
  const log = options.log?.child({ component: 'billing-scheduler' });
  const controller = new AbortController();
  let current: Promise<RunBillingResult | null> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let stopped = !enabled;

  const check = async (): Promise<RunBillingResult | null> => {
    const now = options.now?.() ?? new Date();
    const period = duePeriod(now, graceMs);
    const [row] = await options.em
      .fork()
      .execute<Array<{ status: string }>>(`select status from billing_runs where period = ?`, [
        parsePeriod(period).key,
      ]);
    if (row?.status === 'completed') {
      return null;
    }
    const result = await runBilling({ ...options, now: () => options.now?.() ?? new Date() }, period, {
      ...options.run,
      trigger: 'scheduler',
      rerun: false,
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

  const schedule = (delayMs: number): void => {
    if (stopped) {
      return;
    }
    timer = setTimeout(() => {
      void tick().finally(() => schedule(intervalMs));
    }, delayMs);
    timer.unref();
  };
  if (enabled) {
    schedule(0);
    log?.info({ graceMs, intervalMs }, 'billing scheduler started');
  }

  return {
    tick: () => (enabled ? tick() : Promise.resolve(null)),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
      await current;
    },
  };
}

/** The scheduler options that the configuration's `BILLING_*` settings decide. */
export function billingSchedulerSettings(
  settings: SchedulerSettings,
): Required<Pick<BillingSchedulerOptions, 'enabled' | 'graceMs' | 'intervalMs'>> & { concurrency: number } {
  return {
    enabled: settings.enabled,
    graceMs: settings.graceMinutes * 60_000,
    intervalMs: settings.intervalSeconds * 1000,
    concurrency: settings.concurrency,
  };
}
