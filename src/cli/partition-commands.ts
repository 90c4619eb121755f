import {
  applyUsageRetention,
  ensureUsagePartitionsAhead,
  listUsagePartitions,
} from '../services/usage/usage-partitions';
import type { CommandResult, Env, Flags } from './billing-commands';
import { UsageError, on, str } from './billing-commands';

/** `npm run billing -- partitions list|ensure|drop`: the monthly partitions of `usage_records` (usage-partitions.ts). */

function months(flags: Flags, name: string, fallback: number | undefined, min: number): number | undefined {
  const raw = str(flags, name);
  if (raw === undefined) {
    return fallback;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > 1200) {
    throw new UsageError(`--${name} must be a whole number from ${min} to 1200 (got ${raw})`);
  }
  return Number(raw);
}

export async function partitionsListCommand(env: Env): Promise<CommandResult> {
  const partitions = await listUsagePartitions(env.db.orm.em.fork());
  return {
    code: 0,
    result: { ok: true, partitions: partitions.map((p) => ({ month: p.month, table: p.table })) },
    text: partitions.length
      ? `usage_records partitions:\n${partitions.map((p) => `  ${p.month}  ${p.table}`).join('\n')}`
      : 'usage_records has no partitions',
  };
}

export async function partitionsEnsureCommand(
  env: Env,
  flags: Flags,
  now = new Date(env.clock.now()),
): Promise<CommandResult> {
  const ahead = months(flags, 'months-ahead', env.config.billing.usagePartitionsAhead, 0)!;
  const created = await ensureUsagePartitionsAhead(env.db.orm.em.fork(), now, ahead);
  return {
    code: 0,
    result: { ok: true, monthsAhead: ahead, created },
    text: created.length
      ? `Created the usage_records partitions of ${created.join(', ')}.`
      : `Every partition up to ${ahead} month(s) ahead already exists.`,
  };
}

export async function partitionsDropCommand(
  env: Env,
  flags: Flags,
  now = new Date(env.clock.now()),
): Promise<CommandResult> {
  const retentionMonths = months(flags, 'retention-months', env.config.billing.usageRetentionMonths, 1);
  if (retentionMonths === undefined) {
    throw new UsageError('Set USAGE_RETENTION_MONTHS or give --retention-months N (months kept besides the current)');
  }
  const outcomes = await applyUsageRetention(env.db.orm.em.fork(), { now, retentionMonths, keep: on(flags, 'keep') });
  const refused = outcomes.filter((o) => o.kind === 'refused');
  const lines = outcomes.map((o) =>
    o.kind === 'refused'
      ? `  ${o.month}  refused: ${o.unbilledEvents} unbilled event(s); invoice the month first`
      : o.kind === 'detached'
        ? `  ${o.month}  detached (kept as table ${o.table})`
        : `  ${o.month}  dropped`,
  );
  return {
    code: refused.length > 0 ? 1 : 0,
    result: { ok: refused.length === 0, retentionMonths, outcomes },
    text: lines.length
      ? `usage_records partitions older than ${retentionMonths} month(s):\n${lines.join('\n')}`
      : `No usage_records partition is older than ${retentionMonths} month(s).`,
  };
}
