import {
  BigIntType,
  Check,
  Collection,
  Entity,
  Enum,
  Index,
  ManyToOne,
  OneToMany,
  Property,
  Unique,
} from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { Customer } from './customer.entity';
import { InvoiceStatus } from './enums';
import { InvoiceLine } from './invoice-line.entity';

/**
 * Our invoice for one customer and one billing period. Money is integer minor units (bigint) plus the ISO
 * currency. Status changes only through the transition table (`src/services/invoicing/invoice-status.ts`).
 */
@Entity({ tableName: 'invoices' })
// Invariant 5: one invoice per customer and period unless the earlier one is VOID.
@Unique({
  name: 'invoices_customer_period_active_unique',
  expression: `create unique index "invoices_customer_period_active_unique" on "invoices" ("customer_id", "period") where "status" <> '${InvoiceStatus.VOID}'`,
})
@Index({ properties: ['status', 'createdAt'] })
// Refunds never exceed what was paid, credits never what was billed, neither goes below zero: the last guard against
// two refunds racing (the services reserve under the row lock first).
@Check({
  name: 'invoices_refunded_within_paid',
  expression: 'amount_refunded_minor >= 0 and amount_refunded_minor <= amount_paid_minor',
})
@Check({
  name: 'invoices_credited_within_total',
  expression: 'amount_credited_minor >= 0 and amount_credited_minor <= total_minor',
})
export class Invoice extends BaseEntity<
  | 'status'
  | 'subtotalMinor'
  | 'taxMinor'
  | 'totalMinor'
  | 'amountPaidMinor'
  | 'amountRefundedMinor'
  | 'amountCreditedMinor'
  | 'lines'
  | 'stripeAttemptCount'
> {
  /** `PREFIX-YYYY-MM-NNNNNN-YYYYMMDD`, assigned when the DRAFT is created. */
  @Property({ type: 'text' })
  @Unique()
  number!: string;

  @ManyToOne(() => Customer, { deleteRule: 'restrict' })
  customer!: Customer;

  /** Billing period `YYYY-MM`, covering `[periodStart, periodEnd)` in UTC. */
  @Property({ type: 'character', length: 7 })
  period!: string;

  @Property({ type: 'timestamptz' })
  periodStart!: Date;

  @Property({ type: 'timestamptz' })
  periodEnd!: Date;

  @Enum({ items: () => InvoiceStatus, nativeEnumName: 'invoice_status' })
  status: InvoiceStatus = InvoiceStatus.DRAFT;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: new BigIntType('bigint'), default: 0 })
  subtotalMinor: bigint = 0n;

  @Property({ type: new BigIntType('bigint'), default: 0 })
  taxMinor: bigint = 0n;

  @Property({ type: new BigIntType('bigint'), default: 0 })
  totalMinor: bigint = 0n;

  @Property({ type: new BigIntType('bigint'), default: 0 })
  amountPaidMinor: bigint = 0n;

  /** Given back to the customer's card by refunds (credit notes of ours or the Stripe Dashboard's, bare refunds). */
  @Property({ type: new BigIntType('bigint'), default: 0 })
  amountRefundedMinor: bigint = 0n;

  /** Taken off what the open invoice asked by credit notes before payment: the amount due is total − credited. */
  @Property({ type: new BigIntType('bigint'), default: 0 })
  amountCreditedMinor: bigint = 0n;

  @Property({ type: 'timestamptz', nullable: true })
  dueDate?: Date | null;

  @Property({ type: 'text', nullable: true })
  @Unique()
  stripeInvoiceId?: string | null;

  @Property({ type: 'text', nullable: true })
  stripeCustomerId?: string | null;

  /** The PaymentIntent of Stripe's invoice (its default payment): `payment_intent.*` events name only it. */
  @Property({ type: 'text', nullable: true })
  @Index()
  stripePaymentIntentId?: string | null;

  /**
   * Why the last payment attempt failed, as Stripe said it (`last_payment_error` / the 402): error code, the
   * issuer's decline code, Stripe's message for the customer. Never card data. Cleared when the invoice is paid.
   */
  @Property({ type: 'text', nullable: true })
  lastPaymentErrorCode?: string | null;

  @Property({ type: 'text', nullable: true })
  lastPaymentErrorDeclineCode?: string | null;

  @Property({ type: 'text', nullable: true })
  lastPaymentErrorMessage?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  lastPaymentErrorAt?: Date | null;

  /** Stripe's hosted invoice page. */
  @Property({ type: 'text', nullable: true })
  paymentUrl?: string | null;

  @Property({ type: 'text', nullable: true })
  pdfUrl?: string | null;

  @Property({ type: 'text', nullable: true })
  voidReason?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  finalizedAt?: Date | null;

  /**
   * When createInvoice first began writing this invoice to Stripe. Set on a DRAFT, it means an earlier attempt may
   * have left a Stripe invoice or items whose ids we never stored: the next attempt looks for them before creating
   * anything (Stripe forgets an idempotency key after 24 hours).
   */
  @Property({ type: 'timestamptz', nullable: true })
  publishStartedAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  sentAt?: Date | null;

  /** When we first asked Stripe to e-mail the invoice; with `sentAt` still null, Stripe's events tell if it went. */
  @Property({ type: 'timestamptz', nullable: true })
  sendRequestedAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  paidAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  voidedAt?: Date | null;

  /** `created` time of the last Stripe event applied; an older event never overwrites a newer one. */
  @Property({ type: 'timestamptz', nullable: true })
  lastStripeEventAt?: Date | null;

  @Property({ type: 'text', nullable: true })
  lastStripeEventId?: string | null;

  /**
   * The highest Stripe `attempt_count` seen for this invoice (events, and the invoice re-read after a 3-D Secure
   * answer): an `invoice.payment_failed` of an earlier attempt carries a lower one and moves the status no more.
   */
  @Property({ type: 'integer', default: 0 })
  stripeAttemptCount: number = 0;

  @OneToMany(() => InvoiceLine, (line) => line.invoice, { orderBy: { position: 'asc' } })
  lines = new Collection<InvoiceLine>(this);
}
