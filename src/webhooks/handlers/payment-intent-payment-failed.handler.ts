import { applyPaymentIntentFailed } from '../../services/stripe-events/apply-payment-intent-event.service';
import type { WebhookHandler } from '../handler.types';

/** `payment_intent.payment_failed`: records why the invoice's payment failed (code, decline code, message). */
export const paymentIntentPaymentFailedHandler: WebhookHandler = async ({ em, event }) => {
  if (event.object.kind !== 'payment_intent') {
    return { outcome: 'ignored', detail: 'the event carries no PaymentIntent' };
  }
  const result = await applyPaymentIntentFailed(em, { event, intent: event.object.paymentIntent });
  return { outcome: result.outcome, detail: result.detail };
};
