import type { RemoteInvoice } from './invoice-snapshot';
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
  /**
   * Quantity and unit price (minor units, ≤ 12 decimals) that Stripe multiplies into exactly `amountMinor`; absent,
   * the item is made from the amount alone (quantity 1).
   */
  pricing?: { quantity: string; unitAmountDecimal: string } | null;
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
  /** The customer is not present (a dunning retry): Stripe's `off_session`, so the bank may exempt it from 3-D Secure. */
  offSession?: boolean;
}

export type PayInvoiceResult =
  | { outcome: 'paid'; invoice: RemoteInvoice }
  | { outcome: 'declined'; code: string; declineCode: string | null; message: string; paymentIntentId?: string }
  | {
      outcome: 'requires_action';
      clientSecret?: string;
      invoice?: RemoteInvoice;
      message: string;
      paymentIntentId?: string;
    }
  /** Stripe unreachable or 5xx after the SDK's retries: the charge may have happened; let the webhook settle it. */
  | { outcome: 'unknown'; message: string }
  | { outcome: 'invalid_state'; message: string; invoice?: RemoteInvoice }
  /** Stripe's invoice does not total ours: nothing was charged (invariant 3 of docs/architecture.md). */
  | { outcome: 'total_mismatch'; mismatch: TotalMismatch };
