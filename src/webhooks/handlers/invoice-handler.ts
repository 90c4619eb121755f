import { applyStripeInvoiceEvent } from '../../services/stripe-events/apply-stripe-invoice-event.service';
import type { InvoiceEventEffect } from '../../services/stripe-events/apply-stripe-invoice-event.service';
import type { WebhookHandler } from '../handler.types';

/** Every invoice handler is the same call with a different effect; the rules live in the service. */
export function invoiceHandler(effect: InvoiceEventEffect): WebhookHandler {
  return async ({ em, event, preloaded }) => {
    if (event.object.kind !== 'invoice') {
      return { outcome: 'ignored', detail: 'the event carries no invoice' };
    }
    const result = await applyStripeInvoiceEvent(em, {
      event,
      remote: event.object.invoice,
      effect,
      preloaded,
    });
    return { outcome: result.outcome, detail: result.detail };
  };
}
