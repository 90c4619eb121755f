import { Entity, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { BillableMetric } from './billable-metric.entity';
import { Customer } from './customer.entity';
import { Invoice } from './invoice.entity';

/** One metered event. Written set-based; the (customer, idempotency key) pair makes ingestion idempotent. */
@Entity({ tableName: 'usage_records' })
@Unique({ properties: ['customer', 'idempotencyKey'] })
@Index({ properties: ['customer', 'occurredAt'] })
export class UsageRecord {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => Customer, { deleteRule: 'restrict' })
  customer!: Customer;

  @ManyToOne(() => BillableMetric, { deleteRule: 'restrict' })
  metric!: BillableMetric;

  @Property({ type: 'decimal', precision: 30, scale: 12 })
  quantity!: string;

  @Property({ type: 'timestamptz' })
  occurredAt!: Date;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  @Property({ type: 'text', nullable: true })
  agentId?: string | null;

  @Property({ type: 'json', nullable: true })
  metadata?: Record<string, unknown> | null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  receivedAt: Date = new Date();

  /** Late usage (its period was already invoiced) is carried to this later invoice as an adjustment. */
  @ManyToOne(() => Invoice, { nullable: true, deleteRule: 'set null' })
  carriedToInvoice?: Invoice | null;
}
