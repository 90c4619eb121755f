import { Entity, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { BillableMetric } from './billable-metric.entity';
import { Customer } from './customer.entity';
import { Invoice } from './invoice.entity';

/** One metered event. Written set-based; the (customer, idempotency key) pair makes ingestion idempotent. */
@Entity({ tableName: 'usage_records' })
@Unique({ properties: ['customer', 'idempotencyKey'] })
@Index({ properties: ['customer', 'occurredAt'] })
@Index({ properties: ['billedOnInvoice'] })
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

  /**
   * The invoice that billed this record: the invoice of its own period, or, for late usage (received after its
   * period was invoiced), a later invoice that carried it as an adjustment. Null while unbilled.
   */
  @ManyToOne(() => Invoice, { nullable: true, deleteRule: 'set null' })
  billedOnInvoice?: Invoice | null;
}
