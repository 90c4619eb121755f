import type { EntityManager } from '@mikro-orm/postgresql';
import { MetricAggregation } from '../../entities/enums';
import type { PriceModel } from '../../entities/enums';
import type { PriceTier } from '../../entities';
import { compare, parseDecimal } from '../shared/decimal';
import { sqlText } from '../shared/sql-values';
import { UNBILLED_BUCKET } from '../../entities/usage-rollup.entity';
import { billedOnSql } from './usage-repository';
import { numberedPlaceholders, pooledQuery } from '../../entities/pooled-query';

const AGG_SUM = sqlText(MetricAggregation.SUM);
const AGG_COUNT = sqlText(MetricAggregation.COUNT);
const AGG_MAX = sqlText(MetricAggregation.MAX);
const AGG_UNIQUE = sqlText(MetricAggregation.UNIQUE_COUNT);
const isUtcMidnight = (at: Date): boolean => at.getTime() % 86_400_000 === 0;

/** A bound instant as its UTC day. */
const UTC_DAY = `(?::timestamptz at time zone 'UTC')::date`;

/** Usage of one metric under one price version, aggregated in SQL. */
export interface UsageSegmentRow {
  metricId: string;
  metricCode: string;
  metricName: string;
  unit: string;
  aggregation: MetricAggregation;
  /** Null when no price covers the usage (reported as an unpriced line, never silently dropped). */
  price: {
    id: string;
    model: PriceModel;
    unitAmount: string | null;
    packageSize: string | null;
    tiers: PriceTier[] | null;
    freeAllowance: string;
    effectiveFrom: Date;
  } | null;
  /** Aggregated quantity (decimal string) per the metric's aggregation. */
  quantity: string;
  firstAt: Date;
}

export type RecordScope =
  | { kind: 'all' }
  | { kind: 'forPeriod' }
  | { kind: 'billed'; except?: string }
  | { kind: 'billedOn'; invoiceId: string };

export interface UsageScope {
  customerId: string;
  currency: string;
  from: Date;
  to: Date;
  /**
   * Which records: `all`; `forPeriod` (unbilled, or billed on an invoice of this same period: what an invoice of the
   * period would bill, leaving out late usage carried elsewhere); `billed` (billed on some invoice, optionally except
   * one); `billedOn` (claimed by one invoice).
   */
  records: RecordScope;
}

interface RawRow {
  metric_id: string;
  code: string;
  name: string;
  unit: string;
  aggregation: MetricAggregation;
  price_id: string | null;
  model: PriceModel | null;
  unit_amount: string | null;
  package_size: string | null;
  tiers: PriceTier[] | string | null;
  free_allowance: string | null;
  effective_from: Date | string | null;
  total: string;
  events: string;
  maximum: string;
  distinct_values: string;
  first_at: Date | string;
}

/**
 * Aggregates a customer's usage over `[from, to)` in SQL, grouped by metric and by the price version in force at
 * each event's `occurredAt` (a customer override wins over the general price). Records are never loaded into
 * JavaScript. `max` and `unique_count` are period-wide figures, priced by the version in force at the last event.
 */
export async function aggregateUsage(em: EntityManager, scope: UsageScope): Promise<UsageSegmentRow[]> {
  const { sql: recordFilter, params: filterParams } = recordFilterSql(scope, 'records');
  const { sql: bucketFilter, params: bucketParams } = recordFilterSql(scope, 'rollups');
  const { from, to } = scope;
  if (!isUtcMidnight(from) || !isUtcMidnight(to)) {
    // Rollups hold whole UTC days; every caller aggregates whole months.
    throw new Error(`aggregateUsage reads whole UTC days, not ${from.toISOString()}–${to.toISOString()}`);
  }

  const sql = `with boundary_days as (${BOUNDARY_DAYS}),
     event_days as (
       -- The metric days read from the events: those a price changes within, and those with usage of a distinct
       -- count (found in the customer's rollups, which hold every event's day), so that usage without either reads
       -- no event at all.
       select b.metric_id, b.day from boundary_days b
       union
       select r.metric_id, r.day
       from usage_rollups r
       join billable_metrics m on m.id = r.metric_id
       where r.customer_id = ? and r.day >= ${UTC_DAY} and r.day < ${UTC_DAY} and m.aggregation = ${AGG_UNIQUE}
     ),
     usage as (
       -- Whole days from the rollups: every event of such a day falls under the price in force at its first event.
       select r.metric_id, r.events, r.quantity_sum as total, r.quantity_max as maximum, r.first_at as occurred_at,
              null::text as unique_value, r.customer_id
       from usage_rollups r
       join billable_metrics m on m.id = r.metric_id
       where r.customer_id = ? and r.day >= ${UTC_DAY} and r.day < ${UTC_DAY} and ${bucketFilter}
         and m.aggregation <> ${AGG_UNIQUE}
         and not exists (select 1 from boundary_days b where b.metric_id = r.metric_id and b.day = r.day)
       union all
       -- Events themselves only on the event days, where a day cannot be rolled up.
       select ur.metric_id, 1, ur.quantity, ur.quantity, ur.occurred_at,
              case when m.unique_field = 'agentId' then ur.agent_id
                   when m.unique_field like 'metadata.%' then ur.metadata ->> substr(m.unique_field, 10)
              end,
              ur.customer_id
       from event_days d
       join usage_records ur on ur.metric_id = d.metric_id
         and ur.occurred_at >= d.day::timestamp at time zone 'UTC'
         and ur.occurred_at < (d.day + 1)::timestamp at time zone 'UTC'
       join billable_metrics m on m.id = ur.metric_id
       where ur.customer_id = ? and ur.occurred_at >= ? and ur.occurred_at < ? and ${recordFilter}
     ), priced as (
       select u.*, p.id as price_id
       from usage u
       left join lateral (
         select p.id from prices p
         where p.metric_id = u.metric_id and p.currency = ?
           and (p.customer_id = u.customer_id or p.customer_id is null)
           and p.effective_from <= u.occurred_at and (p.effective_to is null or u.occurred_at < p.effective_to)
         order by (p.customer_id is null), p.effective_from desc
         limit 1
       ) p on true
     ), grouped as (
       -- Summed per metric and price before the metric's and the price's columns join: few rows to join and sort.
       select u.metric_id, u.price_id, sum(u.total) as total, sum(u.events) as events, max(u.maximum) as maximum,
              min(u.occurred_at) as first_at
       from priced u
       group by u.metric_id, u.price_id
     )
     select g.metric_id, m.code, m.name, m.unit, m.aggregation,
            g.price_id, p.model, p.unit_amount::text as unit_amount, p.package_size::text as package_size, p.tiers,
            p.free_allowance::text as free_allowance, p.effective_from,
            g.total::text as total, g.events::text as events, g.maximum::text as maximum,
            (select count(distinct w.unique_value) from usage w where w.metric_id = g.metric_id)::text
              as distinct_values,
            g.first_at
     from grouped g
     join billable_metrics m on m.id = g.metric_id
     left join prices p on p.id = g.price_id
     order by m.code, g.first_at`;
  const params = [
    scope.currency,
    scope.customerId,
    from,
    to,
    scope.customerId,
    from,
    to,
    scope.customerId,
    from,
    to,
    ...bucketParams,
    scope.customerId,
    from,
    to,
    ...filterParams,
    scope.currency,
  ];
  // Outside a transaction (a preview) as a prepared statement: parsed and planned once per connection, where this
  // statement's parsing and planning cost more than running it on a month of day rollups.
  const rows = em.isInTransaction()
    ? await em.execute<RawRow[]>(sql, params)
    : await pooledQuery<RawRow>(em, numberedPlaceholders(sql), params, `aggregate-usage:${statementVariant(scope)}`);

  const segments = rows.map((row): UsageSegmentRow => ({
    metricId: row.metric_id,
    metricCode: row.code,
    metricName: row.name,
    unit: row.unit,
    aggregation: row.aggregation,
    price:
      row.price_id && row.model
        ? {
            id: row.price_id,
            model: row.model,
            unitAmount: row.unit_amount,
            packageSize: row.package_size,
            tiers: typeof row.tiers === 'string' ? (JSON.parse(row.tiers) as PriceTier[]) : row.tiers,
            freeAllowance: row.free_allowance ?? '0',
            effectiveFrom: new Date(row.effective_from as string),
          }
        : null,
    quantity: {
      [MetricAggregation.SUM]: row.total,
      [MetricAggregation.COUNT]: row.events,
      [MetricAggregation.MAX]: row.maximum,
      [MetricAggregation.UNIQUE_COUNT]: row.distinct_values,
    }[row.aggregation],
    firstAt: new Date(row.first_at),
  }));
  return collapsePeriodWide(segments, rows);
}

/** Which text of the statement a scope makes (the record filter's), to name it as a prepared statement. */
function statementVariant(scope: UsageScope): string {
  const records = scope.records;
  return records.kind === 'billed' && records.except ? 'billed-except' : records.kind;
}

/**
 * Which records (or rollup buckets: a rollup row's bucket is the invoice its events are billed on, or
 * `UNBILLED_BUCKET`) a scope reads.
 */
function recordFilterSql(scope: UsageScope, from: 'records' | 'rollups'): { sql: string; params: unknown[] } {
  const records = scope.records;
  const billedOn = from === 'records' ? billedOnSql('ur') : `nullif(r.bucket, '${UNBILLED_BUCKET}'::uuid)`;
  const customer = from === 'records' ? 'ur.customer_id' : 'r.customer_id';
  switch (records.kind) {
    case 'all':
      return { sql: 'true', params: [] };
    case 'forPeriod':
      return {
        sql: `(${billedOn} is null or ${billedOn} in (
          select i.id from invoices i where i.customer_id = ${customer} and i.period_start = ? and i.period_end = ?))`,
        params: [scope.from, scope.to],
      };
    case 'billed':
      return records.except
        ? { sql: `${billedOn} is not null and ${billedOn} <> ?`, params: [records.except] }
        : { sql: `${billedOn} is not null`, params: [] };
    case 'billedOn':
      return { sql: `${billedOn} = ?`, params: [records.invoiceId] };
  }
}

/**
 * The metric days (UTC) of `[from, to)` on which a price version of the customer's (or the general one) starts or
 * ends other than at midnight: on such a day the events of one rollup row may fall under two prices, so the day is
 * read from the events. Parameters: currency, customer, from, to.
 */
const BOUNDARY_DAYS = `
  select distinct p.metric_id, (t.at at time zone 'UTC')::date as day
  from prices p
  cross join lateral (values (p.effective_from), (p.effective_to)) as t(at)
  where p.currency = ? and (p.customer_id = ? or p.customer_id is null)
    and t.at is not null and t.at >= ? and t.at < ?
    and t.at <> date_trunc('day', t.at, 'UTC')`;

/** `max` and `unique_count` are one figure for the whole period: keep one segment, priced by the latest version. */
function collapsePeriodWide(segments: UsageSegmentRow[], rows: RawRow[]): UsageSegmentRow[] {
  const result: UsageSegmentRow[] = [];
  const periodWide = new Map<string, UsageSegmentRow>();
  segments.forEach((segment, i) => {
    if (segment.aggregation === MetricAggregation.SUM || segment.aggregation === MetricAggregation.COUNT) {
      result.push(segment);
      return;
    }
    const seen = periodWide.get(segment.metricId);
    if (!seen) {
      periodWide.set(segment.metricId, segment);
      result.push(segment);
      return;
    }
    if (segment.aggregation === MetricAggregation.MAX) {
      seen.quantity =
        compare(parseDecimal(rows[i].maximum), parseDecimal(seen.quantity)) > 0 ? rows[i].maximum : seen.quantity;
    }
    // Segments arrive in time order: the later segment's price is the one in force at the end.
    seen.price = segment.price;
  });
  return result;
}

/** One metric's usage on one UTC day. */
export interface DailyUsageRow {
  metricCode: string;
  metricName: string;
  unit: string;
  aggregation: MetricAggregation;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  /** Per the metric's aggregation, over that day alone (decimal string). */
  quantity: string;
}

/**
 * A customer's usage over `[from, to)` per metric and UTC day, aggregated in SQL by each metric's own aggregation
 * over the day (a sum, a count of events, a maximum, a count of distinct values), whatever invoice it is on. Days
 * without usage are absent. One statement; the caller bounds the range (one period: at most 31 days per metric).
 */
export async function aggregateDailyUsage(
  em: EntityManager,
  scope: { customerId: string; from: Date; to: Date },
): Promise<DailyUsageRow[]> {
  const rows = await em.execute<
    Array<{ code: string; name: string; unit: string; aggregation: MetricAggregation; day: string; quantity: string }>
  >(
    // Days from the rollups (every bucket: whatever invoice the usage is on); distinct counts from the events.
    `with usage as (
       select r.metric_id, to_char(r.day, 'YYYY-MM-DD') as day,
              sum(r.events) as events, sum(r.quantity_sum) as total, max(r.quantity_max) as maximum,
              null::bigint as distinct_values
       from usage_rollups r
       join billable_metrics m on m.id = r.metric_id
       where r.customer_id = ? and r.day >= ${UTC_DAY} and r.day < ${UTC_DAY} and m.aggregation <> ${AGG_UNIQUE}
       group by r.metric_id, r.day
       union all
       select ur.metric_id, to_char(ur.occurred_at at time zone 'UTC', 'YYYY-MM-DD'), count(*), null, null,
              count(distinct case when m.unique_field = 'agentId' then ur.agent_id
                                  when m.unique_field like 'metadata.%' then ur.metadata ->> substr(m.unique_field, 10)
                             end)
       from usage_records ur
       join billable_metrics m on m.id = ur.metric_id
       where ur.customer_id = ? and ur.occurred_at >= ? and ur.occurred_at < ? and m.aggregation = ${AGG_UNIQUE}
       group by 1, 2
     )
     select m.code, m.name, m.unit, m.aggregation, u.day,
            (case m.aggregation
               when ${AGG_SUM} then u.total
               when ${AGG_COUNT} then u.events
               when ${AGG_MAX} then u.maximum
               else u.distinct_values
             end)::text as quantity
     from usage u
     join billable_metrics m on m.id = u.metric_id
     order by m.code, u.day`,
    [scope.customerId, scope.from, scope.to, scope.customerId, scope.from, scope.to],
  );
  return rows.map((row) => ({
    metricCode: row.code,
    metricName: row.name,
    unit: row.unit,
    aggregation: row.aggregation,
    day: row.day,
    quantity: row.quantity,
  }));
}
