import { ArgsType, Field, ID, InputType, ObjectType } from 'type-graphql';
import { MetricAggregation, PriceModel } from '../entities/enums';
import { BillableMetric } from '../entities';
import { DecimalScalar } from './scalars';
import './enums';

@ObjectType('PriceTier')
export class PriceTierType {
  @Field(() => DecimalScalar, { nullable: true, description: 'Inclusive upper bound in units; null = no limit.' })
  upTo!: string | null;

  @Field(() => DecimalScalar, { description: 'Price per unit in major units.' })
  unitAmount!: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'Flat fee for entering the tier.' })
  flatAmount?: string | null;
}

@InputType()
export class PriceTierInput {
  @Field(() => DecimalScalar, { nullable: true })
  upTo!: string | null;

  @Field(() => DecimalScalar)
  unitAmount!: string;

  @Field(() => DecimalScalar, { nullable: true })
  flatAmount?: string | null;
}

@ObjectType('Price', { description: 'One version of a price, effective over [effectiveFrom, effectiveTo).' })
export class PriceType {
  @Field(() => ID)
  id!: string;

  @Field(() => BillableMetric)
  metric!: BillableMetric;

  @Field()
  currency!: string;

  @Field(() => String, { nullable: true, description: 'Set for a per-customer override.' })
  userId!: string | null;

  @Field(() => PriceModel)
  model!: PriceModel;

  @Field(() => DecimalScalar, { nullable: true })
  unitAmount!: string | null;

  @Field(() => DecimalScalar, { nullable: true })
  packageSize!: string | null;

  @Field(() => [PriceTierType], { nullable: true })
  tiers!: PriceTierType[] | null;

  @Field(() => DecimalScalar)
  freeAllowance!: string;

  @Field()
  effectiveFrom!: Date;

  @Field(() => Date, { nullable: true })
  effectiveTo!: Date | null;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field()
  createdAt!: Date;
}

@InputType()
export class SetPriceInput {
  @Field({ description: 'Metric code.' })
  metric!: string;

  @Field()
  currency!: string;

  @Field(() => String, { nullable: true, description: 'AgentHub user id for a per-customer override.' })
  userId?: string | null;

  @Field(() => PriceModel)
  model!: PriceModel;

  @Field(() => DecimalScalar, { nullable: true })
  unitAmount?: string | null;

  @Field(() => DecimalScalar, { nullable: true })
  packageSize?: string | null;

  @Field(() => [PriceTierInput], { nullable: true })
  tiers?: PriceTierInput[] | null;

  @Field(() => DecimalScalar, { nullable: true })
  freeAllowance?: string | null;

  @Field(() => Date, { nullable: true, description: 'Default: now. Must be after the latest version.' })
  effectiveFrom?: Date | null;
}

@InputType()
export class CreateBillableMetricInput {
  @Field()
  code!: string;

  @Field()
  name!: string;

  @Field()
  unit!: string;

  @Field(() => MetricAggregation)
  aggregation!: MetricAggregation;

  @Field(() => String, { nullable: true, description: 'For unique_count: "agentId" or "metadata.<key>".' })
  uniqueField?: string | null;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@ArgsType()
export class PricesArgs {
  @Field(() => String, { nullable: true })
  metric?: string | null;

  @Field(() => String, { nullable: true })
  currency?: string | null;

  @Field(() => String, { nullable: true })
  userId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Include closed versions (the full history).' })
  includeHistory?: boolean | null;
}
