import type Stripe from 'stripe';
import type { StripeCaller } from './stripe-caller';
import { METADATA } from './stripe-gateway.types';

const PAGE_SIZE = 100;

/**
 * Crash recovery when we never stored the Stripe id: the customer's invoice whose metadata names our
 * invoice. Lists rather than searches, because Stripe's search index lags writes by up to a minute.
 * Prefers a live invoice over a void one.
 */
export async function findInvoiceByOurId(
  caller: StripeCaller,
  invoiceId: string,
  stripeCustomerId: string,
): Promise<Stripe.Invoice | null> {
  let voided: Stripe.Invoice | null = null;
  const invoices = caller.listAll((stripe, after) =>
    stripe.invoices.list({ customer: stripeCustomerId, limit: PAGE_SIZE, ...(after ? { starting_after: after } : {}) }),
  );
  for await (const invoice of invoices) {
    if (invoice.metadata?.[METADATA.invoiceId] !== invoiceId) {
      continue;
    }
    if (invoice.status !== 'void') {
      return invoice;
    }
    voided = voided ?? invoice;
  }
  return voided;
}

/** Events created at or after `since`, oldest first (Stripe lists newest first and keeps 30 days). */
export async function listEventsSince(caller: StripeCaller, since: Date, types?: string[]): Promise<Stripe.Event[]> {
  const gte = Math.floor(since.getTime() / 1000);
  const events: Stripe.Event[] = [];
  const pages = caller.listAll((stripe, after) =>
    stripe.events.list({
      created: { gte },
      limit: PAGE_SIZE,
      ...(types && types.length > 0 ? { types } : {}),
      ...(after ? { starting_after: after } : {}),
    }),
  );
  for await (const event of pages) {
    events.push(event);
  }
  return events.reverse();
}
