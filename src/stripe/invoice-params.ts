import type Stripe from 'stripe';
import { failedWith } from './stripe-errors';
import { METADATA } from './metadata';
import type { CreateInvoiceInput } from './stripe-gateway.types';

/** The one shape of an invoice create: identical on every retry, so the idempotency key always replays. */
export function invoiceCreateParams(input: CreateInvoiceInput): Stripe.InvoiceCreateParams {
  return {
    customer: input.stripeCustomerId,
    currency: input.currency.toLowerCase(),
    collection_method: 'send_invoice',
    days_until_due: input.daysUntilDue,
    // We finalize and send explicitly; auto-advance would let Stripe finalize the draft about an hour later.
    auto_advance: false,
    // Only the items we attach to this invoice belong on it, never stray pending items of the customer.
    pending_invoice_items_behavior: 'exclude',
    number: input.number,
    metadata: {
      [METADATA.invoiceId]: input.invoiceId,
      [METADATA.invoiceNumber]: input.number,
      [METADATA.period]: input.period,
    },
    ...(input.description ? { description: input.description } : {}),
  };
}

/** Stripe's answers to re-creating an invoice: our custom number is taken, or the key was used differently. */
export function isDuplicateCreate(error: unknown): boolean {
  if (!failedWith(error, 'invalid_request') || error.failure.kind !== 'invalid_request') {
    return false;
  }
  return error.failure.param === 'number' || error.failure.code === 'idempotency_error';
}
