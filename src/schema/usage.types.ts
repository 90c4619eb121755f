import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { InvoiceLineKind, MetricAggregation } from '../entities/enums';
import { MoneyType } from './money.type';
import { DecimalScalar } from './scalars';
import './enums';

@InputType({ description: 'One usage event. Invalid events are reported by index; the rest of the batch is stored.' })
export class UsageEventInput {
  @Field({ description: 'AgentHub user id of the customer.' })
  userId!: string;

  @Field({ description: 'Billable metric code, e.g. "llm_input_tokens".' })
  metric!: string;

  @Field(() => DecimalScalar, {
    description:
      'Read by SUM and MAX metrics. COUNT metrics count events and UNIQUE_COUNT metrics distinct values: they never ' +
      'read it, so it must be 1 there (QUANTITY_MUST_BE_ONE otherwise).',
  })
  quantity!: string;

  @Field({ description: 'ISO 8601 date-time when the usage happened; it decides the period and the price.' })
  occurredAt!: string;

  @Field({ description: 'Unique per customer: a repeated key is counted as a duplicate and not stored again.' })
  idempotencyKey!: string;

  @Field(() => String, { nullable: true })
  agentId?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  metadata?: Record<string, unknown> | null;
}

@ObjectType('UsageRejection')
export class UsageRejectionType {
  @Field(() => Int, { description: 'Position of the event in the batch (0-based).' })
  index!: number;

  @Field()
  code!: string;

  @Field()
  message!: string;
}

@ObjectType('RecordUsageResult')
export class RecordUsageResultType {
  @Field(() => Int, { description: 'Events stored by this call.' })
  accepted!: number;

  @Field(() => Int, { description: 'Events already stored (same customer and idempotency key).' })
  duplicates!: number;

  @Field(() => [UsageRejectionType])
  rejected!: UsageRejectionType[];

  @Field(() => Int, { description: 'Accepted events for an already-invoiced period, carried to the next invoice.' })
  late!: number;
}

@ObjectType()
export class UsageMetricRef {
  @Field()
  code!: string;

  @Field()
  name!: string;

  @Field()
  unit!: string;
}

@ObjectType('UsageLine', { description: 'One line of a usage summary (= one line of the invoice it previews).' })
export class UsageLineType {
  @Field(() => InvoiceLineKind)
  kind!: InvoiceLineKind;

  @Field(() => UsageMetricRef)
  metric!: UsageMetricRef;

  @Field({ description: 'Period the usage occurred in (earlier for late-usage adjustments).' })
  usagePeriod!: string;

  @Field()
  description!: string;

  @Field(() => DecimalScalar, {
    description:
      'Read by SUM and MAX metrics. COUNT metrics count events and UNIQUE_COUNT metrics distinct values: they never ' +
      'read it, so it must be 1 there (QUANTITY_MUST_BE_ONE otherwise).',
  })
  quantity!: string;

  @Field(() => DecimalScalar, { description: 'Quantity beyond the free allowance.' })
  billableQuantity!: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'Effective price per billable unit (major units).' })
  unitAmount!: string | null;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field({ description: 'No price covers this usage: shown at zero, never dropped.' })
  unpriced!: boolean;
}

@ObjectType('UsageSummary', { description: 'Cost so far for a period: the preview of its invoice.' })
export class UsageSummaryType {
  @Field()
  userId!: string;

  @Field()
  period!: string;

  @Field()
  periodStart!: Date;

  @Field()
  periodEnd!: Date;

  @Field()
  currency!: string;

  @Field(() => [UsageLineType])
  lines!: UsageLineType[];

  @Field(() => MoneyType)
  subtotal!: MoneyType;

  @Field(() => [String], { description: 'Earlier invoiced periods whose late usage is carried here.' })
  latePeriods!: string[];

  @Field()
  generatedAt!: Date;
}

@ObjectType('UsageDay', { description: "One metric's usage on one UTC day." })
export class UsageDayType {
  @Field({ description: 'YYYY-MM-DD (UTC).' })
  date!: string;

  @Field(() => DecimalScalar, {
    description:
      "That day's usage by the metric's aggregation over the day alone: a sum, a count, a maximum or a count of distinct values.",
  })
  quantity!: string;
}

@ObjectType('UsageDailyMetric')
export class UsageDailyMetricType {
  @Field(() => UsageMetricRef)
  metric!: UsageMetricRef;

  @Field(() => MetricAggregation)
  aggregation!: MetricAggregation;

  @Field(() => [UsageDayType], { description: 'Days with usage, oldest first; days without usage are absent.' })
  days!: UsageDayType[];
}

@ObjectType('UsageDaily', {
  description:
    "A period's usage per metric and UTC day, whatever invoice it is on. For MAX and UNIQUE_COUNT metrics a day's " +
    "figure is that day's own: the days do not add up to the period's.",
})
export class UsageDailyType {
  @Field()
  userId!: string;

  @Field()
  period!: string;

  @Field()
  periodStart!: Date;

  @Field()
  periodEnd!: Date;

  @Field(() => [UsageDailyMetricType], { description: 'Metrics with usage in the period, by code.' })
  metrics!: UsageDailyMetricType[];
}
