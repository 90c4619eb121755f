import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { recordUsage } from '../services/usage/record-usage.service';
import { getUsageDaily } from '../services/usage/usage-daily.service';
import { getUsageSummary } from '../services/usage/usage-summary.service';
import { RecordUsageResultType, UsageDailyType, UsageEventInput, UsageSummaryType } from '../schema/usage.types';
import type { GraphQLContext } from './context';
import { toUsageSummary } from './mappers';

@Resolver()
export class UsageResolver {
  @Mutation(() => RecordUsageResultType, {
    description: 'Stores usage events (roles service and admin); up to 10,000 per call.',
  })
  recordUsage(
    @Arg('events', () => [UsageEventInput]) events: UsageEventInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<RecordUsageResultType> {
    return recordUsage(ctx.em, ctx.caller, events, new Date(), undefined, ctx.usageQueue);
  }

  @Query(() => UsageSummaryType, { description: 'Cost so far for a period: the preview of its invoice.' })
  async usageSummary(
    @Arg('period', { description: 'YYYY-MM' }) period: string,
    @Arg('userId', () => String, { nullable: true }) userId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UsageSummaryType> {
    return toUsageSummary(
      await getUsageSummary(ctx.em, ctx.caller, { period, userId }, ctx.config.billing.defaultCurrency),
    );
  }

  @Query(() => UsageDailyType, {
    description: "A period's usage per metric and UTC day (a chart of the month); users their own, admins any user's.",
  })
  async usageDaily(
    @Arg('period', { description: 'YYYY-MM' }) period: string,
    @Arg('userId', () => String, { nullable: true }) userId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<UsageDailyType> {
    const daily = await getUsageDaily(ctx.em, ctx.caller, { period, userId });
    return {
      userId: daily.userId,
      period: daily.period.key,
      periodStart: daily.period.start,
      periodEnd: daily.period.end,
      metrics: daily.metrics.map((metric) => ({
        metric: { code: metric.code, name: metric.name, unit: metric.unit },
        aggregation: metric.aggregation,
        days: metric.days,
      })),
    };
  }
}
