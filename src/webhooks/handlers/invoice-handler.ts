import type Stripe from 'stripe';
import { applyStripeInvoiceEvent } from '../../services/apply-stripe-invoice-event.service';
import type { InvoiceEventEffect } from '../../services/apply-stripe-invoice-event.service';
import type { WebhookHandler } from '../handler.types';

/** Every invoice handler is the same call with a different effect; the rules live in the service. */
export function invoiceHandler(effect: InvoiceEventEffect): WebhookHandler {
  return async ({ em, event }) => {
    const result = await applyStripeInvoiceEvent(em, { event, remote: event.data.object as Stripe.Invoice, effect });
    return { outcome: result.outcome, detail: result.detail };
  };
}
