import type { EntityManager } from '@mikro-orm/postgresql';
import { Customer } from '../../entities';
import type { MetricAggregation } from '../../entities/enums';
import type { BillingPeriod } from '../billing-runs/billing-period';
import { parsePeriod } from '../billing-runs/billing-period';
import type { Caller } from '../customers/caller';
import { resolveSubject } from '../customers/caller';
import { getCurrentCustomer } from '../customers/get-current-customer.service';
import { decimalToString, normalize, parseDecimal } from '../shared/decimal';
import { NotFoundError, quote } from '../shared/errors';
import { aggregateDailyUsage } from './usage-aggregation';

export interface UsageDailyMetric {
  code: string;
  name: string;
  unit: string;
  aggregation: MetricAggregation;
  /** Days with usage, in order; `date` is `YYYY-MM-DD` (UTC). */
  days: Array<{ date: string; quantity: string }>;
}

export interface UsageDaily {
  userId: string;
  period: BillingPeriod;
  metrics: UsageDailyMetric[];
}

/**
 * A period's usage per metric and UTC day (a chart of the month): each day aggregated by the metric's own rule.
 * A user sees their own; admin and service callers any user's, as `usageSummary`.
 */
export async function getUsageDaily(
  em: EntityManager,
  caller: Caller,
  input: { period: string; userId?: string | null },
): Promise<UsageDaily> {
  const userId = resolveSubject(caller, input.userId);
  const period = parsePeriod(input.period);
  const customer =
    userId === caller.userId
      ? await getCurrentCustomer(em, caller)
      : await em.findOne(Customer, { externalUserId: userId });
  if (!customer) {
    throw new NotFoundError(`Customer ${quote(userId)}`);
  }
  const rows = await aggregateDailyUsage(em, { customerId: customer.id, from: period.start, to: period.end });
  const metrics = new Map<string, UsageDailyMetric>();
  for (const row of rows) {
    let metric = metrics.get(row.metricCode);
    if (!metric) {
      metric = { code: row.metricCode, name: row.metricName, unit: row.unit, aggregation: row.aggregation, days: [] };
      metrics.set(row.metricCode, metric);
    }
    metric.days.push({ date: row.day, quantity: decimalToString(normalize(parseDecimal(row.quantity))) });
  }
  return { userId, period, metrics: [...metrics.values()] };
}
