import type { Invoice } from '../../entities';
import type {
  CreditNoteKind,
  CreditNoteStatus,
  InvoiceLineKind,
  InvoiceStatus,
  StatusChangeSource,
} from '../../entities/enums';
import type { PaymentError } from '../payments/payment-error';

/**
 * What readers of an invoice see (the GraphQL page and single invoice, the REST routes, the status feed): plain
 * data, read with plain SQL (`invoice-read.repository.ts`) and mapped once per transport. No entity, no identity
 * map, no lazy collection: nothing to hydrate, and nothing that can reach the database again.
 */
export interface InvoiceHeader {
  id: string;
  number: string;
  /** The customer's AgentHub user id. */
  userId: string;
  status: InvoiceStatus;
  period: string;
  currency: string;
  totalMinor: bigint;
  amountPaidMinor: bigint;
  /** Given back by refunds; the invoice stays PAID. */
  amountRefundedMinor: bigint;
  /** Taken off what was due by credit notes before payment. */
  amountCreditedMinor: bigint;
  dueDate: Date | null;
  paymentUrl: string | null;
  pdfUrl: string | null;
  voidReason: string | null;
  /** When Stripe e-mailed it (the payment guide calls such an OPEN invoice "sent"). */
  sentAt: Date | null;
  createdAt: Date;
  paidAt: Date | null;
  /** Why the last payment attempt failed (cleared once paid); null when none failed. */
  lastPaymentError: (PaymentError & { occurredAt: Date }) | null;
}

export interface InvoiceLineRecord {
  id: string;
  kind: InvoiceLineKind;
  /** The metric's code; null for an adjustment. */
  metric: string | null;
  description: string;
  /** Exact decimals without trailing zeros ("0.02", not the column's "0.020000000000"). */
  quantity: string;
  /** The part of `quantity` charged, beyond the price's free allowance, as recorded when the line was made. */
  billableQuantity: string | null;
  unitAmount: string | null;
  amountMinor: bigint;
}

export interface StatusChangeRecord {
  from: InvoiceStatus | null;
  to: InvoiceStatus;
  source: StatusChangeSource;
  reason: string | null;
  occurredAt: Date;
}

/** A credit note of the invoice: a refund of a paid one, or a credit lowering what an unpaid one asks. */
export interface CreditNoteRecord {
  id: string;
  number: string;
  kind: CreditNoteKind;
  status: CreditNoteStatus;
  amountMinor: bigint;
  refundedMinor: bigint;
  reason: string | null;
  lines: Array<{ description: string; amountMinor: bigint; invoiceLineId: string | null }>;
  createdAt: Date;
}

/** An invoice with its lines (by position), its status history (oldest first) and its credit notes (oldest first). */
export interface InvoiceRecord extends InvoiceHeader {
  lines: InvoiceLineRecord[];
  history: StatusChangeRecord[];
  creditNotes: CreditNoteRecord[];
}

/** The header of an invoice a use case already holds as an entity (mutation outcomes), with its customer loaded. */
export function invoiceHeaderOf(invoice: Invoice): InvoiceHeader {
  return {
    id: invoice.id,
    number: invoice.number,
    userId: invoice.customer.externalUserId,
    status: invoice.status,
    period: invoice.period,
    currency: invoice.currency,
    totalMinor: invoice.totalMinor,
    amountPaidMinor: invoice.amountPaidMinor,
    amountRefundedMinor: invoice.amountRefundedMinor,
    amountCreditedMinor: invoice.amountCreditedMinor,
    dueDate: invoice.dueDate ?? null,
    paymentUrl: invoice.paymentUrl ?? null,
    pdfUrl: invoice.pdfUrl ?? null,
    voidReason: invoice.voidReason ?? null,
    sentAt: invoice.sentAt ?? null,
    createdAt: invoice.createdAt,
    paidAt: invoice.paidAt ?? null,
    lastPaymentError:
      invoice.lastPaymentErrorCode && invoice.lastPaymentErrorAt
        ? {
            code: invoice.lastPaymentErrorCode,
            declineCode: invoice.lastPaymentErrorDeclineCode ?? null,
            message: invoice.lastPaymentErrorMessage ?? '',
            occurredAt: invoice.lastPaymentErrorAt,
          }
        : null,
  };
}
