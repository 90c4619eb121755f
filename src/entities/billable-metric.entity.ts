import { Entity, Enum, Property, Unique } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { BaseEntity } from './base.entity';
import { MetricAggregation } from './enums';

/** A thing we meter (agent runtime minutes, LLM tokens…); new metrics are rows, not code. */
@ObjectType({ description: 'A metered quantity in the catalogue.' })
@Entity({ tableName: 'billable_metrics' })
export class BillableMetric extends BaseEntity {
  @Field(() => ID)
  declare id: string;

  @Field()
  @Property({ type: 'text' })
  @Unique()
  code!: string;

  @Field()
  @Property({ type: 'text' })
  name!: string;

  /** Display unit, e.g. `minute`, `token`, `GB-hour`. */
  @Field()
  @Property({ type: 'text' })
  unit!: string;

  @Field(() => MetricAggregation)
  @Enum({ items: () => MetricAggregation, nativeEnumName: 'metric_aggregation' })
  aggregation: MetricAggregation = MetricAggregation.SUM;

  /** For `unique_count`: the usage field whose distinct values are counted (e.g. `agentId`). */
  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  uniqueField?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @Field()
  @Property({ type: 'boolean', default: true })
  active: boolean = true;
}
