import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { BillableMetric } from './billable-metric.entity';
import { Customer } from './customer.entity';

/**
 * One metered event. Written set-based; the (customer, idempotency key) pair makes ingestion idempotent, kept in
 * `usage_idempotency_keys` (the table is partitioned by month of `occurredAt`, and a unique index here would have to
 * hold it). Which invoice billed it is kept per range of events (`usage_billing_claims`), never on the event.
 */
@Entity({ tableName: 'usage_records' })
@Index({ properties: ['customer', 'occurredAt'] })
// The scheduler asks every tick whether usage arrived since the due month's run (billing-catch-up.ts).
@Index({ properties: ['receivedAt'] })
export class UsageRecord {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => Customer, { deleteRule: 'restrict' })
  customer!: Customer;

  @ManyToOne(() => BillableMetric, { deleteRule: 'restrict' })
  metric!: BillableMetric;

  @Property({ type: 'decimal', precision: 30, scale: 12 })
  quantity!: string;

  /** The partition key (a month per partition, `usage-partitions.ts`), so part of the primary key. */
  @PrimaryKey({ type: 'timestamptz' })
  occurredAt!: Date;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  @Property({ type: 'text', nullable: true })
  agentId?: string | null;

  @Property({ type: 'json', nullable: true })
  metadata?: Record<string, unknown> | null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  receivedAt: Date = new Date();
}
