import type Stripe from 'stripe';
import { METADATA } from './metadata';
import { fromStripeAmount, fromStripeTime } from './stripe-values';

/** A Stripe invoice's status, in Stripe's words. */
export type RemoteInvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';

/** A Stripe payment of an invoice: `open` while under way, `paid`, or `canceled`. */
export type RemotePaymentStatus = 'open' | 'paid' | 'canceled';

/** A Stripe PaymentIntent's status, in Stripe's words. */
export type RemoteIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'canceled'
  | 'succeeded';

/** One payment of a Stripe invoice, as reconciliation reads it to tell whether money is moving. */
export interface RemotePayment {
  id: string;
  /** Null when Stripe says something this code does not know. */
  status: RemotePaymentStatus | null;
  amountPaidMinor: bigint;
  /** The PaymentIntent behind it; null when the payment has none (e.g. an out-of-band payment). */
  intent: {
    id: string;
    /** Null when it was not expanded, or its status is one this code does not know: it cannot be read. */
    status: RemoteIntentStatus | null;
  } | null;
}

/** A Stripe invoice as the services need it: Stripe's object never leaves src/stripe. */
export interface RemoteInvoice {
  id: string;
  /** Null when Stripe gives none, or one this code does not know (nothing is planned from it). */
  status: RemoteInvoiceStatus | null;
  number: string | null;
  totalMinor: bigint;
  amountDueMinor: bigint;
  amountPaidMinor: bigint;
  /** Lower-case ISO code, as Stripe writes it. */
  currency: string;
  hostedInvoiceUrl: string | null;
  pdfUrl: string | null;
  dueDate: Date | null;
  finalizedAt: Date | null;
  paidAt: Date | null;
  /** Our ids from its metadata (`METADATA`); null on an invoice we did not make. */
  ours: { invoiceId: string | null; number: string | null; period: string | null };
  /** What a 3-D Secure confirmation needs, when Stripe included it (`confirmation_secret`). */
  confirmationSecret: string | null;
  /** Its payments when Stripe included them (`payments`), else null; `hasMore`: Stripe listed only some. */
  payments: { items: RemotePayment[]; hasMore: boolean } | null;
  /** The PaymentIntent of its default payment, when `payments` was included: its events name only it. */
  paymentIntentId: string | null;
  /**
   * Stripe's `attempt_count`: how many payment attempts the invoice has had when this snapshot was taken. An event
   * about an earlier attempt carries a lower count than the invoice has now, which tells a stale failure apart.
   */
  attemptCount: number;
  /** What its credit notes credited, before and after payment (0 when it has none). */
  creditNotesMinor?: bigint;
}

/** An invoice item as a resume needs it: which of our lines it carries (its metadata) and its amount. */
export interface RemoteInvoiceItem {
  id: string;
  /** `agenthub_invoice_id` / `agenthub_line_id` from its metadata; null on an item we did not make. */
  invoiceId: string | null;
  lineId: string | null;
  amountMinor: bigint;
  currency: string;
}

const INVOICE_STATUSES: ReadonlySet<string> = new Set<RemoteInvoiceStatus>([
  'draft',
  'open',
  'paid',
  'uncollectible',
  'void',
]);
const PAYMENT_STATUSES: ReadonlySet<string> = new Set<RemotePaymentStatus>(['open', 'paid', 'canceled']);
const INTENT_STATUSES: ReadonlySet<string> = new Set<RemoteIntentStatus>([
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'requires_capture',
  'canceled',
  'succeeded',
]);

/** `value` when it is one of `words`, else null: a word Stripe adds later is not mistaken for one we act on. */
function known<T extends string>(words: ReadonlySet<string>, value: string | null | undefined): T | null {
  return value && words.has(value) ? (value as T) : null;
}

export function toRemoteInvoice(invoice: Stripe.Invoice): RemoteInvoice {
  const metadata = invoice.metadata ?? {};
  return {
    id: invoice.id,
    status: known<RemoteInvoiceStatus>(INVOICE_STATUSES, invoice.status),
    number: invoice.number ?? null,
    totalMinor: fromStripeAmount(invoice.total),
    amountDueMinor: fromStripeAmount(invoice.amount_due),
    amountPaidMinor: fromStripeAmount(invoice.amount_paid),
    currency: invoice.currency,
    hostedInvoiceUrl: invoice.hosted_invoice_url ?? null,
    pdfUrl: invoice.invoice_pdf ?? null,
    dueDate: fromStripeTime(invoice.due_date),
    finalizedAt: fromStripeTime(invoice.status_transitions?.finalized_at),
    paidAt: fromStripeTime(invoice.status_transitions?.paid_at),
    ours: {
      invoiceId: metadata[METADATA.invoiceId] ?? null,
      number: metadata[METADATA.invoiceNumber] ?? null,
      period: metadata[METADATA.period] ?? null,
    },
    confirmationSecret: invoice.confirmation_secret?.client_secret ?? null,
    payments: invoice.payments
      ? { items: invoice.payments.data.map(toRemotePayment), hasMore: invoice.payments.has_more }
      : null,
    paymentIntentId: defaultIntentId(invoice.payments?.data ?? []),
    attemptCount: invoice.attempt_count ?? 0,
    creditNotesMinor:
      fromStripeAmount(invoice.pre_payment_credit_notes_amount) +
      fromStripeAmount(invoice.post_payment_credit_notes_amount),
  };
}

function defaultIntentId(payments: Stripe.InvoicePayment[]): string | null {
  const intent = payments.find((p) => p.is_default)?.payment?.payment_intent;
  return !intent ? null : typeof intent === 'string' ? intent : intent.id;
}

/** The decline or failure of a PaymentIntent's last attempt (`last_payment_error`), card data left out. */
export interface RemotePaymentError {
  code: string;
  declineCode: string | null;
  message: string;
}

/** A PaymentIntent as a `payment_intent.*` event carries it. */
export interface RemotePaymentIntent {
  id: string;
  status: RemoteIntentStatus | null;
  lastPaymentError: RemotePaymentError | null;
}

export function toRemotePaymentIntent(intent: Stripe.PaymentIntent): RemotePaymentIntent {
  const error = intent.last_payment_error;
  return {
    id: intent.id,
    status: known<RemoteIntentStatus>(INTENT_STATUSES, intent.status),
    lastPaymentError: error
      ? {
          code: error.code ?? error.type,
          declineCode: error.decline_code ? error.decline_code : null,
          message: error.message ?? 'The payment failed.',
        }
      : null,
  };
}

function toRemotePayment(payment: Stripe.InvoicePayment): RemotePayment {
  const intent = payment.payment?.payment_intent;
  return {
    id: payment.id,
    status: known<RemotePaymentStatus>(PAYMENT_STATUSES, payment.status),
    amountPaidMinor: fromStripeAmount(payment.amount_paid),
    // A bare id means the intent was not expanded: its status cannot be read.
    intent: !intent
      ? null
      : typeof intent === 'string'
        ? { id: intent, status: null }
        : { id: intent.id, status: known<RemoteIntentStatus>(INTENT_STATUSES, intent.status) },
  };
}

export function toRemoteInvoiceItem(item: Stripe.InvoiceItem): RemoteInvoiceItem {
  return {
    id: item.id,
    invoiceId: item.metadata?.[METADATA.invoiceId] ?? null,
    lineId: item.metadata?.[METADATA.lineId] ?? null,
    amountMinor: fromStripeAmount(item.amount),
    currency: item.currency,
  };
}
