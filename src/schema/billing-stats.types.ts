import { Field, Float, Int, ObjectType } from 'type-graphql';
import { MoneyType } from './money.type';

@ObjectType('MetricRevenue', { description: 'What one metric brought in over a period (its invoiced lines).' })
export class MetricRevenueType {
  @Field(() => String, { nullable: true, description: 'The metric code; null for lines without one (adjustments).' })
  metricCode!: string | null;

  @Field(() => MoneyType)
  amount!: MoneyType;
}

@ObjectType('BillingStats', {
  description:
    'The numbers of one period and currency (admin, service): invoiced, paid, outstanding, refunded, success rate.',
})
export class BillingStatsType {
  @Field({ description: 'YYYY-MM' })
  period!: string;

  @Field({ description: 'Lower-case ISO 4217 code.' })
  currency!: string;

  @Field(() => Int, { description: 'Invoices issued for the period (every status but DRAFT and VOID).' })
  invoiceCount!: number;

  @Field(() => MoneyType, { description: 'Their totals.' })
  invoiced!: MoneyType;

  @Field(() => Int)
  paidCount!: number;

  @Field(() => MoneyType, { description: 'Paid on PAID invoices.' })
  paid!: MoneyType;

  @Field(() => MoneyType, {
    description: 'Still owed on OPEN, PROCESSING, REQUIRES_ACTION and PAYMENT_FAILED invoices.',
  })
  outstanding!: MoneyType;

  @Field(() => MoneyType, { description: 'Written off (UNCOLLECTIBLE).' })
  uncollectible!: MoneyType;

  @Field(() => MoneyType, { description: 'Refunded on the period’s invoices (zero until refunds are supported).' })
  refunded!: MoneyType;

  @Field(() => Float, {
    nullable: true,
    description: 'Succeeded ÷ (succeeded + declined) payment attempts on the period’s invoices; null without any.',
  })
  paymentSuccessRate!: number | null;

  @Field(() => Float, { nullable: true, description: 'Mean days from finalising to payment; null when none is paid.' })
  averageDaysToPay!: number | null;

  @Field(() => [MetricRevenueType], { description: 'Invoiced amounts by metric, largest first.' })
  revenueByMetric!: MetricRevenueType[];
}
