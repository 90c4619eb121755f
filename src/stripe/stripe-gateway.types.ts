import type Stripe from 'stripe';
import type { ExpectedTotal, TotalMismatch } from './total-guard';

export interface CreateCustomerInput {
  /** Our customer row id. */
  customerId: string;
  externalUserId: string;
  email?: string;
  name?: string;
}

export interface CreateInvoiceInput {
  /** Our invoice row id. */
  invoiceId: string;
  /** Our invoice number, sent as Stripe's custom invoice number. */
  number: string;
  stripeCustomerId: string;
  currency: string;
  daysUntilDue: number;
  /** Billing period, `YYYY-MM`. */
  period: string;
  description?: string;
}

export interface AddInvoiceItemInput {
  invoiceId: string;
  /** Our invoice line row id. */
  lineId: string;
  stripeCustomerId: string;
  stripeInvoiceId: string;
  amountMinor: bigint;
  currency: string;
  description: string;
  /** The item this line had before it was removed from the draft (see `invoiceLineKey`). */
  replaces?: string | null;
}

export interface PayInvoiceInput {
  invoiceId: string;
  stripeInvoiceId: string;
  /** Our payment attempt number (1, 2, …): retries of one attempt reuse its idempotency key. */
  attempt: number;
  paymentMethodId: string;
  /** Our total: Stripe's invoice is not paid unless it totals exactly this. */
  expected: ExpectedTotal;
}

/** An invoice item as a resume needs it: which of our lines it carries (its metadata) and its amount. */
export interface StripeItemSnapshot {
  id: string;
  /** `agenthub_invoice_id` / `agenthub_line_id` from its metadata; null on an item we did not make. */
  invoiceId: string | null;
  lineId: string | null;
  amountMinor: bigint;
  currency: string;
}

export type PayInvoiceResult =
  | { outcome: 'paid'; invoice: Stripe.Invoice }
  | { outcome: 'declined'; code: string; declineCode: string | null; message: string }
  | { outcome: 'requires_action'; clientSecret?: string; invoice?: Stripe.Invoice; message: string }
  /** Stripe unreachable or 5xx after the SDK's retries: the charge may have happened; let the webhook settle it. */
  | { outcome: 'unknown'; message: string }
  | { outcome: 'invalid_state'; message: string; invoice?: Stripe.Invoice }
  /** Stripe's invoice does not total ours: nothing was charged (invariant 3 of docs/architecture.md). */
  | { outcome: 'total_mismatch'; mismatch: TotalMismatch };

/** Metadata keys we put on Stripe objects to find them again from our ids. */
export const METADATA = {
  customerId: 'agenthub_customer_id',
  userId: 'agenthub_user_id',
  invoiceId: 'agenthub_invoice_id',
  invoiceNumber: 'agenthub_invoice_number',
  period: 'agenthub_period',
  lineId: 'agenthub_line_id',
} as const;
