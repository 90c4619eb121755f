import type Stripe from 'stripe';

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
}

export interface PayInvoiceInput {
  invoiceId: string;
  stripeInvoiceId: string;
  /** Our payment attempt number (1, 2, …): retries of one attempt reuse its idempotency key. */
  attempt: number;
  paymentMethodId: string;
}

export type PayInvoiceResult =
  | { outcome: 'paid'; invoice: Stripe.Invoice }
  | { outcome: 'declined'; code: string; declineCode: string | null; message: string }
  | { outcome: 'requires_action'; clientSecret?: string; invoice?: Stripe.Invoice; message: string }
  /** Stripe unreachable or 5xx after the SDK's retries: the charge may have happened; let the webhook settle it. */
  | { outcome: 'unknown'; message: string }
  | { outcome: 'invalid_state'; message: string; invoice?: Stripe.Invoice };

/** Metadata keys we put on Stripe objects to find them again from our ids. */
export const METADATA = {
  customerId: 'agenthub_customer_id',
  userId: 'agenthub_user_id',
  invoiceId: 'agenthub_invoice_id',
  invoiceNumber: 'agenthub_invoice_number',
  period: 'agenthub_period',
  lineId: 'agenthub_line_id',
} as const;
