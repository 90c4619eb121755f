import { applyChargeRefunded } from '../../services/stripe-events/apply-credit-note-event.service';
import type { WebhookHandler } from '../handler.types';

/** `charge.refunded`: a refund of an invoice's payment (made by us or in the Stripe Dashboard) shows on the invoice. */
export const chargeRefundedHandler: WebhookHandler = async ({ em, event }) => {
  if (event.object.kind !== 'charge') {
    return { outcome: 'ignored', detail: 'the event carries no charge' };
  }
  const result = await applyChargeRefunded(em, { event, charge: event.object.charge });
  return { outcome: result.outcome, detail: result.detail };
};
