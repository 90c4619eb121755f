import path from 'node:path';
import type { AppConfig } from '../config/config';
import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import { createLogger } from '../config/logger';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { openDatabase, pendingMigrations } from '../entities/orm';
import { ensurePrivateDir } from '../lib/private-files';
import { parsePeriod } from '../services/billing-runs/billing-period';
import { parseIsoTimestamp } from '../services/shared/date-range';
import { runBilling } from '../services/billing-runs/billing-run.service';
import type { RunBillingOptions } from '../services/billing-runs/billing-run.service';
import type { BillingRunProgress } from '../services/billing-runs/get-billing-run.service';
import { DEFAULT_PROCESSING_TIMEOUT_MS, reconcile } from '../services/reconciliation/reconcile-invoices.service';
import type { ReconcileReport } from '../services/reconciliation/reconcile-invoices.service';
import type { StripeGateway } from '../stripe';
import { gatewayFromConfig } from '../stripe/gateway-from-config';
import type { RunningEmulator } from '../../emulator/server';
import { startLocalStripe } from '../dev-stripe';
import { UsageError, on, str } from './args';
import type { CommandResult, Flags } from './args';

export { UsageError, on, str } from './args';
export type { CommandResult, Flags } from './args';

function int(flags: Flags, name: string, fallback: number): number {
  const raw = str(flags, name);
  if (raw === undefined) {
    return fallback;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(`--${name} must be a positive whole number (got "${raw}")`);
  }
  return Number(raw);
}

export function periodFlag(flags: Flags, required = true): string | undefined {
  const period = str(flags, 'period');
  if (!period) {
    if (required) {
      throw new UsageError('--period YYYY-MM is required');
    }
    return undefined;
  }
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) {
    throw new UsageError(`--period must be YYYY-MM (got "${period}")`);
  }
  return parsePeriod(period).key;
}

export function timeFlag(flags: Flags, name: string): Date | undefined {
  const raw = str(flags, name);
  if (raw === undefined) {
    return undefined;
  }
  // A date (UTC midnight), or a date-time with its zone, read by the same strict parser as usage timestamps: no
  // 30 February rolled into March, no "1" read as the year 2001.
  const at = parseIsoTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw);
  if (typeof at !== 'number') {
    throw new UsageError(
      `--${name} must be a date (2024-02-01, UTC) or an ISO 8601 time with its zone such as 2024-02-01T00:00:00Z ` +
        `(got "${raw}")`,
    );
  }
  return new Date(at);
}

/** What the parser cannot know: formats, ranges and options that go together. Usage errors, before anything opens. */
export function checkFlags(key: string, flags: Flags): void {
  if (key === 'run' || key === 'reconcile') {
    periodFlag(flags);
  }
  if (key === 'reconcile') {
    int(flags, 'processing-timeout-minutes', 1);
  }
  if (key === 'run') {
    ['concurrency', 'max-attempts', 'lease-seconds'].forEach((name) => int(flags, name, 1));
  }
  if (key === 'seed-demo') {
    periodFlag(flags, false);
  }
  if (key === 'webhooks replay' && !str(flags, 'id') && !on(flags, 'failed') && !timeFlag(flags, 'since')) {
    throw new UsageError('Give --id <evt_…>, --failed or --since <ISO time>');
  }
  if (key === 'webhooks recover' && !timeFlag(flags, 'since')) {
    throw new UsageError('--since <ISO time> is required (Stripe keeps events for 30 days)');
  }
}

/** The database and Stripe as the server sees them; the embedded emulator is the one `npm start` runs. */
export interface Env {
  config: AppConfig;
  db: Database;
  gateway: StripeGateway;
  log: Logger;
  /** The one source of time of a command (`systemClock`), as the server's use cases have theirs. */
  clock: Clock;
  /** Stops what openEnv started (the database, and the local Stripe when this command had to start it). */
  close(): Promise<void>;
}

export async function openEnv(config: AppConfig, verbose: boolean): Promise<Env> {
  ensurePrivateDir(config.dataDir);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDataDir: path.join(config.dataDir, 'pglite'),
  });
  try {
    await db.orm.em.fork().getConnection().execute('select 1');
  } catch (error) {
    // Checked before the migrator looks: it would create a missing database rather than say it is missing.
    await db.close();
    const missing = (error as { code?: string }).code === '3D000';
    throw new Error(
      missing
        ? 'The database in DATABASE_URL does not exist: create it and run `npm run migrate`, or fix the URL'
        : `The database is not reachable: ${(error as Error).message}`,
    );
  }
  const pending = await pendingMigrations(db.orm);
  if (pending.length > 0) {
    await db.close();
    throw new Error(`The database has pending migrations (${pending.join(', ')}): run \`npm run migrate\` first`);
  }
  const log = createLogger({ logLevel: verbose ? 'info' : 'warn' }, process.stderr);
  let emulator: RunningEmulator | undefined;
  let apiBase = config.stripe.apiBase;
  if (config.stripe.mode === 'emulator' && !apiBase) {
    // No Stripe key: the local Stripe of `npm start`. With the embedded database the server cannot be running (it
    // holds the database), so neither is its emulator: start it here on the same state file. If the port is taken,
    // a server (on PostgreSQL) is running with its emulator: use that one.
    try {
      ({ emulator } = await startLocalStripe(config));
      apiBase = emulator.url;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        await db.close();
        throw error;
      }
      apiBase = `http://127.0.0.1:${config.stripe.emulatorPort}`;
    }
  }
  const gateway = gatewayFromConfig({ stripe: { ...config.stripe, apiBase } });
  return {
    config,
    db,
    gateway,
    log,
    clock: systemClock,
    close: async () => {
      await db.close();
      await emulator?.stop();
    },
  };
}

const summary = (run: BillingRunProgress): string =>
  `${run.done} done, ${run.failed} failed, ${run.skipped} skipped of ${run.total}` +
  (run.pending + run.processing > 0 ? ` (${run.pending + run.processing} left)` : '');

export async function runCommand(
  env: Env,
  flags: Flags,
  hooks: { onProgress?: (run: BillingRunProgress) => void; signal?: AbortSignal },
): Promise<CommandResult> {
  const period = periodFlag(flags) as string;
  const options: RunBillingOptions = {
    trigger: 'cli',
    concurrency: int(flags, 'concurrency', 4),
    maxAttempts: int(flags, 'max-attempts', 3),
    leaseMs: int(flags, 'lease-seconds', 120) * 1000,
    waitForOthers: true,
    signal: hooks.signal,
    onProgress: hooks.onProgress,
  };
  const deps = { em: env.db.orm.em, gateway: env.gateway, config: env.config, log: env.log };
  const result = await runBilling(deps, period, options);
  if (result.kind === 'period_not_ended') {
    throw new UsageError(`Period ${period} has not ended yet`);
  }
  const { run } = result;
  const lines = [`Billing run ${run.period}: ${run.status}, ${summary(run)}`];
  lines.push(...run.failures.map((f) => `  failed  ${f.userId}  (${f.attempts} attempts)  ${f.error}`));
  const ok = run.status === 'completed' && run.failed === 0;
  return { code: ok ? 0 : 1, result: { ok, ...run }, text: lines.join('\n') };
}

export async function reconcileCommand(env: Env, flags: Flags): Promise<CommandResult> {
  const period = periodFlag(flags) as string;
  const dryRun = on(flags, 'dry-run');
  const timeoutMinutes = int(flags, 'processing-timeout-minutes', DEFAULT_PROCESSING_TIMEOUT_MS / 60_000);
  const deps = { em: env.db.orm.em, gateway: env.gateway, config: env.config, log: env.log };
  const report: ReconcileReport = await reconcile(deps, {
    period,
    dryRun,
    processingTimeoutMs: timeoutMinutes * 60_000,
  });
  const verb = dryRun ? 'would change' : 'changed';
  const lines = [
    `Reconciliation ${period}${dryRun ? ' (dry run)' : ''}: ${report.checked} invoices checked, ` +
      `${report.changes.length} ${verb}, ${report.orphans.length} orphans, ${report.warnings.length} warnings, ` +
      `${report.errors.length} errors`,
    ...report.changes.map((c) => `  ${c.number}  ${c.action}  ${c.from} → ${c.to}${c.applied ? '' : ' (not applied)'}`),
    ...report.orphans.map((o) => `  orphan  ${o.stripeInvoiceId}  ${o.number ?? ''}  ${o.status ?? ''}`),
    ...report.warnings.map((w) => `  warning  ${w.number}  ${w.message}`),
    ...report.errors.map((e) => `  error  ${e.number}  ${e.message}`),
  ];
  const ok = report.errors.length === 0;
  return { code: ok ? 0 : 1, result: { ok, ...report }, text: lines.join('\n') };
}
