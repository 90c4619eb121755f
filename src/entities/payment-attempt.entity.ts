import { BigIntType, Entity, Enum, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { PaymentAttemptStatus } from './enums';
import { Invoice } from './invoice.entity';

/** Every try to pay an invoice; `invoice:<id>:pay:<attemptNumber>` is its Stripe idempotency key. */
@Entity({ tableName: 'payment_attempts' })
@Unique({ properties: ['invoice', 'attemptNumber'] })
// One attempt per dunning step: a step resumed after a crash finds its attempt instead of making another.
@Unique({ properties: ['invoice', 'dunningStep'] })
export class PaymentAttempt extends BaseEntity<'status'> {
  @ManyToOne(() => Invoice, { deleteRule: 'cascade' })
  invoice!: Invoice;

  @Property({ type: 'integer' })
  attemptNumber!: number;

  /** A Stripe payment method id (`pm_…`); card numbers never reach this server. */
  @Property({ type: 'text' })
  paymentMethodId!: string;

  @Enum({ items: () => PaymentAttemptStatus, nativeEnumName: 'payment_attempt_status' })
  status: PaymentAttemptStatus = PaymentAttemptStatus.PENDING;

  @Property({ type: 'text' })
  idempotencyKey!: string;

  @Property({ type: new BigIntType('bigint') })
  amountMinor!: bigint;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: 'text', nullable: true })
  errorCode?: string | null;

  @Property({ type: 'text', nullable: true })
  declineCode?: string | null;

  @Property({ type: 'text', nullable: true })
  errorMessage?: string | null;

  /** Who asked for the payment (user id). */
  @Property({ type: 'text', nullable: true })
  requestedBy?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  completedAt?: Date | null;

  /** The dunning step that made this attempt (off-session, with the last payment method); null for a caller's. */
  @Property({ type: 'integer', nullable: true })
  dunningStep?: number | null;
}
