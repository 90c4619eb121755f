import type { EntityManager } from '@mikro-orm/postgresql';
import { MetricAggregation } from '../../entities/enums';
import type { PriceModel } from '../../entities/enums';
import type { PriceTier } from '../../entities';
import { compare, parseDecimal } from '../shared/decimal';
import { sqlText } from '../shared/sql-values';

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
  const { sql: recordFilter, params: filterParams } = recordFilterSql(scope);

  const rows = await em.execute<RawRow[]>(
    `with usage as (
       select ur.metric_id, ur.quantity, ur.occurred_at,
              case when m.unique_field = 'agentId' then ur.agent_id
                   when m.unique_field like 'metadata.%' then ur.metadata ->> substr(m.unique_field, 10)
              end as unique_value,
              p.id as price_id
       from usage_records ur
       join billable_metrics m on m.id = ur.metric_id
       left join lateral (
         select p.id from prices p
         where p.metric_id = ur.metric_id and p.currency = ?
           and (p.customer_id = ur.customer_id or p.customer_id is null)
           and p.effective_from <= ur.occurred_at and (p.effective_to is null or ur.occurred_at < p.effective_to)
         order by (p.customer_id is null), p.effective_from desc
         limit 1
       ) p on true
       where ur.customer_id = ? and ur.occurred_at >= ? and ur.occurred_at < ? and ${recordFilter}
     )
     select u.metric_id, m.code, m.name, m.unit, m.aggregation,
            u.price_id, p.model, p.unit_amount::text as unit_amount, p.package_size::text as package_size, p.tiers,
            p.free_allowance::text as free_allowance, p.effective_from,
            sum(u.quantity)::text as total, count(*)::text as events, max(u.quantity)::text as maximum,
            (select count(distinct w.unique_value) from usage w where w.metric_id = u.metric_id)::text
              as distinct_values,
            min(u.occurred_at) as first_at
     from usage u
     join billable_metrics m on m.id = u.metric_id
     left join prices p on p.id = u.price_id
     group by u.metric_id, m.code, m.name, m.unit, m.aggregation, u.price_id, p.model, p.unit_amount,
              p.package_size, p.tiers, p.free_allowance, p.effective_from
     order by m.code, min(u.occurred_at)`,
    [scope.currency, scope.customerId, scope.from, scope.to, ...filterParams],
  );

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

function recordFilterSql(scope: UsageScope): { sql: string; params: unknown[] } {
  const records = scope.records;
  switch (records.kind) {
    case 'all':
      return { sql: 'true', params: [] };
    case 'forPeriod':
      return {
        sql: `(ur.billed_on_invoice_id is null or ur.billed_on_invoice_id in (
          select i.id from invoices i where i.customer_id = ur.customer_id and i.period_start = ? and i.period_end = ?))`,
        params: [scope.from, scope.to],
      };
    case 'billed':
      return records.except
        ? { sql: 'ur.billed_on_invoice_id is not null and ur.billed_on_invoice_id <> ?', params: [records.except] }
        : { sql: 'ur.billed_on_invoice_id is not null', params: [] };
    case 'billedOn':
      return { sql: 'ur.billed_on_invoice_id = ?', params: [records.invoiceId] };
  }
}

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

const AGG_SUM = sqlText(MetricAggregation.SUM);
const AGG_COUNT = sqlText(MetricAggregation.COUNT);
const AGG_MAX = sqlText(MetricAggregation.MAX);

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
    `with usage as (
       select ur.metric_id, ur.quantity,
              to_char(ur.occurred_at at time zone 'UTC', 'YYYY-MM-DD') as day,
              case when m.unique_field = 'agentId' then ur.agent_id
                   when m.unique_field like 'metadata.%' then ur.metadata ->> substr(m.unique_field, 10)
              end as unique_value
       from usage_records ur
       join billable_metrics m on m.id = ur.metric_id
       where ur.customer_id = ? and ur.occurred_at >= ? and ur.occurred_at < ?
     )
     select m.code, m.name, m.unit, m.aggregation, u.day,
            (case m.aggregation
               when ${AGG_SUM} then sum(u.quantity)
               when ${AGG_COUNT} then count(*)
               when ${AGG_MAX} then max(u.quantity)
               else count(distinct u.unique_value)
             end)::text as quantity
     from usage u
     join billable_metrics m on m.id = u.metric_id
     group by m.code, m.name, m.unit, m.aggregation, u.day
     order by m.code, u.day`,
    [scope.customerId, scope.from, scope.to],
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
