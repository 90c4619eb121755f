import { Entity, Enum, Index, ManyToOne, Property } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { Customer } from './customer.entity';
import { PaymentLimitScope } from './enums';
import { Invoice } from './invoice.entity';

/**
 * An admin lifted a payment attempt limit: failed attempts before `liftedAt` no longer count against the invoice
 * (scope INVOICE) or the user (scope USER). The attempts themselves stay in `payment_attempts`, untouched.
 */
@Entity({ tableName: 'payment_limit_lifts' })
@Index({ properties: ['customer', 'liftedAt'] })
export class PaymentLimitLift extends BaseEntity {
  @Enum({ items: () => PaymentLimitScope, nativeEnumName: 'payment_limit_scope' })
  scope!: PaymentLimitScope;

  /** The user whose limit was lifted (for scope INVOICE, the invoice's owner). */
  @ManyToOne(() => Customer, { deleteRule: 'cascade' })
  customer!: Customer;

  @ManyToOne(() => Invoice, { nullable: true, deleteRule: 'cascade' })
  invoice?: Invoice | null;

  /** The admin who lifted it (their user id). */
  @Property({ type: 'text' })
  liftedBy!: string;

  @Property({ type: 'text', nullable: true })
  reason?: string | null;

  /** On the server's clock: failed attempts from this instant on count again. */
  @Property({ type: 'timestamptz' })
  liftedAt!: Date;
}
