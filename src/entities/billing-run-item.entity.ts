import { Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BillingRunItemStatus } from './enums';
import { BillingRun } from './billing-run.entity';
import { Customer } from './customer.entity';
import { Invoice } from './invoice.entity';

/** One customer's invoice in a billing run: claimed with `FOR UPDATE SKIP LOCKED`, retried, its outcome kept. */
@Entity({ tableName: 'billing_run_items' })
@Unique({ properties: ['run', 'customer'] })
@Index({ properties: ['run', 'status', 'nextAttemptAt'] })
export class BillingRunItem extends BaseEntity<'status' | 'attempts' | 'nextAttemptAt'> {
  @ManyToOne(() => BillingRun, { deleteRule: 'cascade' })
  run!: BillingRun;

  @ManyToOne(() => Customer, { deleteRule: 'restrict' })
  customer!: Customer;

  @Enum({ items: () => BillingRunItemStatus, nativeEnumName: 'billing_run_item_status' })
  status: BillingRunItemStatus = BillingRunItemStatus.PENDING;

  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  nextAttemptAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  leaseUntil?: Date | null;

  /** Why the last attempt failed or was skipped. */
  @Property({ type: 'text', nullable: true })
  error?: string | null;

  @ManyToOne(() => Invoice, { nullable: true, deleteRule: 'set null' })
  invoice?: Invoice | null;
}
