import { BigIntType, Check, Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { CreditNoteKind, CreditNoteStatus, StatusChangeSource } from './enums';
import { Invoice } from './invoice.entity';

/** One line of a credit note: what it gives back and, when it is one of the invoice's lines, which. */
export interface CreditNoteLineData {
  description: string;
  /** Integer minor units, as a decimal string (JSON has no bigint). */
  amountMinor: string;
  invoiceLineId: string | null;
}

/**
 * A credit note of an invoice, made through Stripe: a REFUND of a paid invoice (Stripe's post-payment credit note
 * with a refund) or a CREDIT lowering what an open invoice asks (pre-payment). `PENDING` while Stripe is asked (its
 * amount is already reserved on the invoice, so concurrent refunds cannot exceed what was paid), `ISSUED` once Stripe
 * made it, `FAILED` when Stripe refused (the reservation is released), `VOID` when voided in Stripe.
 */
@Entity({ tableName: 'credit_notes' })
@Unique({ properties: ['invoice', 'requestKey'] })
@Check({ name: 'credit_notes_amount_positive', expression: 'amount_minor > 0' })
export class CreditNote extends BaseEntity<'refundedMinor' | 'status'> {
  /** `PREFIX-CN-YYYY-MM-NNNNNN`. */
  @Property({ type: 'text' })
  @Unique()
  number!: string;

  @ManyToOne(() => Invoice, { deleteRule: 'cascade' })
  @Index()
  invoice!: Invoice;

  @Enum({ items: () => CreditNoteKind, nativeEnumName: 'credit_note_kind' })
  kind!: CreditNoteKind;

  @Enum({ items: () => CreditNoteStatus, nativeEnumName: 'credit_note_status' })
  status: CreditNoteStatus = CreditNoteStatus.PENDING;

  @Property({ type: new BigIntType('bigint') })
  amountMinor!: bigint;

  /** The part refunded to the customer's card (REFUND notes). */
  @Property({ type: new BigIntType('bigint'), default: 0 })
  refundedMinor: bigint = 0n;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: 'text', nullable: true })
  reason?: string | null;

  @Property({ type: 'jsonb' })
  lines!: CreditNoteLineData[];

  /** The caller's idempotency key: the same key on the same invoice answers the same note. */
  @Property({ type: 'text', nullable: true })
  requestKey?: string | null;

  @Property({ type: 'text', nullable: true })
  @Unique()
  stripeCreditNoteId?: string | null;

  @Property({ type: 'text', nullable: true })
  stripeRefundId?: string | null;

  @Enum({ items: () => StatusChangeSource, nativeEnumName: 'status_change_source' })
  source!: StatusChangeSource;

  /** The caller's user id, or the Stripe event id of a note made in the Stripe Dashboard. */
  @Property({ type: 'text', nullable: true })
  sourceRef?: string | null;
}
