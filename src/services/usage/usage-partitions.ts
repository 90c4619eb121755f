import type { EntityManager } from '@mikro-orm/postgresql';
import { UNBILLED_BUCKET } from '../../entities/usage-rollup.entity';

/**
 * `usage_records` is partitioned by month of `occurred_at` (UTC), one table per month named
 * `usage_records_pYYYY_MM`. Months are created ahead (at start and by `billing partitions ensure`) and on demand
 * before a batch that holds an event of a month without one (backfills, late usage), in a transaction of their own:
 * creating a partition locks the parent table, so it never runs inside an ingestion transaction. There is no default
 * partition: a month created later would have to move rows out of it.
 */

export interface UsagePartition {
  /** `YYYY-MM` */
  month: string;
  table: string;
  from: Date;
  to: Date;
}

const monthStart = (at: Date): Date => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
const addMonths = (at: Date, months: number): Date =>
  new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));

export function partitionOf(at: Date): UsagePartition {
  const from = monthStart(at);
  const month = `${from.getUTCFullYear()}-${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
  return { month, table: `usage_records_p${month.replace('-', '_')}`, from, to: addMonths(from, 1) };
}

/**
 * Months known to have a partition, per database (its driver), in this process: partitions are only dropped by
 * retention, for old months, and an event of such a month finds its partition again after `forgetUsagePartitions`.
 */
const knownByDatabase = new WeakMap<object, Set<string>>();
const knownOf = (em: EntityManager): Set<string> => {
  const driver = em.getDriver();
  let known = knownByDatabase.get(driver);
  if (!known) {
    known = new Set();
    knownByDatabase.set(driver, known);
  }
  return known;
};

/** The partitions of `usage_records`, oldest first. */
export async function listUsagePartitions(em: EntityManager): Promise<UsagePartition[]> {
  const rows = await em.execute<Array<{ table: string }>>(
    `select c.relname as table from pg_inherits i
     join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
     where p.relname = 'usage_records' and c.relname ~ '^usage_records_p[0-9]{4}_[0-9]{2}$'
     order by c.relname`,
  );
  return rows.map((row) => {
    const [, year, month] = /^usage_records_p(\d{4})_(\d{2})$/.exec(row.table)!;
    return partitionOf(new Date(Date.UTC(Number(year), Number(month) - 1, 1)));
  });
}

/**
 * Creates the partitions of the months of `instants` that have none; answers the months created. Serialised across
 * instances by an advisory lock; each month in its own short transaction.
 */
export async function ensureUsagePartitions(em: EntityManager, instants: Iterable<Date>): Promise<string[]> {
  const known = knownOf(em);
  const wanted = new Map<string, UsagePartition>();
  for (const at of instants) {
    const partition = partitionOf(at);
    if (!known.has(partition.month)) {
      wanted.set(partition.month, partition);
    }
  }
  if (wanted.size === 0) {
    return [];
  }
  const existing = new Set((await listUsagePartitions(em)).map((p) => p.month));
  const created: string[] = [];
  for (const partition of wanted.values()) {
    if (!existing.has(partition.month)) {
      await em.transactional(async (tem) => {
        await tem.execute(`select pg_advisory_xact_lock(hashtext('usage_records partitions'))`);
        const [{ present }] = await tem.execute<Array<{ present: boolean }>>(
          `select exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
                          where i.inhparent = 'usage_records'::regclass and c.relname = ?) as present`,
          [partition.table],
        );
        if (!present) {
          await tem.execute(
            `create table "${partition.table}" partition of usage_records
             for values from ('${partition.from.toISOString()}') to ('${partition.to.toISOString()}')`,
          );
          created.push(partition.month);
        }
      });
    }
    known.add(partition.month);
  }
  return created;
}

/** The partitions of the current month and the `monthsAhead` next ones (and of last month, for late usage). */
export async function ensureUsagePartitionsAhead(em: EntityManager, now: Date, monthsAhead: number): Promise<string[]> {
  const months = Array.from({ length: monthsAhead + 2 }, (_, i) => addMonths(now, i - 1));
  return ensureUsagePartitions(em, months);
}

export type RetentionOutcome =
  | { kind: 'dropped'; month: string }
  | { kind: 'detached'; month: string; table: string }
  | { kind: 'refused'; month: string; unbilledEvents: number };

/**
 * Removes the partitions of months that ended more than `retentionMonths` months before `now`'s month: detached
 * (kept as a plain table `usage_records_pYYYY_MM_detached_<unix time>`, `keep`) or dropped. A month whose usage is not all billed (unbilled day rollups) is refused
 * and left in place: its events are still to be invoiced. The day rollups, billing claims and idempotency keys stay
 * (invoices and previews of the month read the rollups; a retried event of the month is still a duplicate).
 */
export async function applyUsageRetention(
  em: EntityManager,
  options: { now: Date; retentionMonths: number; keep: boolean },
): Promise<RetentionOutcome[]> {
  const cutoff = addMonths(monthStart(options.now), -options.retentionMonths);
  const outcomes: RetentionOutcome[] = [];
  for (const partition of await listUsagePartitions(em)) {
    if (partition.to > cutoff) {
      continue;
    }
    const outcome = await em.transactional(async (tem): Promise<RetentionOutcome> => {
      // Holds off ingestion into the month while it is checked and detached.
      await tem.execute(`lock table "${partition.table}" in share mode`);
      const [{ events }] = await tem.execute<Array<{ events: string }>>(
        `select coalesce(sum(events), 0)::text as events from usage_rollups
         where bucket = ? and day >= ?::date and day < ?::date`,
        [UNBILLED_BUCKET, partition.month + '-01', partitionOf(partition.to).month + '-01'],
      );
      if (Number(events) > 0) {
        return { kind: 'refused', month: partition.month, unbilledEvents: Number(events) };
      }
      await tem.execute(`alter table usage_records detach partition "${partition.table}"`);
      if (options.keep) {
        // Renamed, so that the month's partition can be created again (late usage) beside the archived one.
        const table = `${partition.table}_detached_${Math.floor(options.now.getTime() / 1000)}`;
        await tem.execute(`alter table "${partition.table}" rename to "${table}"`);
        return { kind: 'detached', month: partition.month, table };
      }
      await tem.execute(`drop table "${partition.table}"`);
      return { kind: 'dropped', month: partition.month };
    });
    if (outcome.kind !== 'refused') {
      knownOf(em).delete(partition.month);
    }
    outcomes.push(outcome);
  }
  return outcomes;
}
