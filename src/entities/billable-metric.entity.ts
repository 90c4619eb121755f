import { Entity, Enum, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { MetricAggregation } from './enums';

/** A thing we meter (agent runtime minutes, LLM tokens…); new metrics are rows, not code. */
@Entity({ tableName: 'billable_metrics' })
export class BillableMetric extends BaseEntity {
  @Property({ type: 'text' })
  @Unique()
  code!: string;

  @Property({ type: 'text' })
  name!: string;

  /** Display unit, e.g. `minute`, `token`, `GB-hour`. */
  @Property({ type: 'text' })
  unit!: string;

  @Enum({ items: () => MetricAggregation, nativeEnumName: 'metric_aggregation' })
  aggregation: MetricAggregation = MetricAggregation.SUM;

  /** For `unique_count`: the usage field whose distinct values are counted (e.g. `agentId`). */
  @Property({ type: 'text', nullable: true })
  uniqueField?: string | null;

  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @Property({ type: 'boolean', default: true })
  active: boolean = true;
}
