import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { BillingStatsType } from '../schema/billing-stats.types';
import { getBillingStats } from '../services/monitoring/billing-stats.service';
import type { GraphQLContext } from './context';
import { toMoney } from './mappers';

@Resolver()
export class BillingStatsResolver {
  @Query(() => BillingStatsType, {
    description: 'Invoiced, paid, outstanding and refunded amounts of a period in one currency (admin, service).',
  })
  async billingStats(
    @Arg('period', { description: 'YYYY-MM' }) period: string,
    @Arg('currency', { description: 'ISO 4217, e.g. "usd"' }) currency: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BillingStatsType> {
    const stats = await getBillingStats(ctx.em, ctx.caller, { period, currency });
    const money = (minor: bigint) => toMoney(minor, stats.currency);
    return {
      period: stats.period,
      currency: stats.currency,
      invoiceCount: stats.invoiceCount,
      invoiced: money(stats.invoicedMinor),
      paidCount: stats.paidCount,
      paid: money(stats.paidMinor),
      outstanding: money(stats.outstandingMinor),
      uncollectible: money(stats.uncollectibleMinor),
      refunded: money(stats.refundedMinor),
      paymentSuccessRate: stats.paymentSuccessRate,
      averageDaysToPay: stats.averageDaysToPay,
      revenueByMetric: stats.revenueByMetric.map((row) => ({
        metricCode: row.metricCode,
        amount: money(row.amountMinor),
      })),
    };
  }
}
