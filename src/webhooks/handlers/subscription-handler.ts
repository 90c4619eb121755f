import { mirrorStripeSubscription } from '../../services/stripe-events/mirror-stripe-subscription.service';
import type { WebhookHandler } from '../handler.types';

/** The three subscription events share one mirror update; only deletion differs. */
export function subscriptionHandler(options: { deleted: boolean }): WebhookHandler {
  return async ({ em, event }) => {
    if (event.object.kind !== 'subscription') {
      return { outcome: 'ignored', detail: 'the event carries no subscription' };
    }
    const result = await mirrorStripeSubscription(em, {
      event,
      subscription: event.object.subscription,
      deleted: options.deleted,
    });
    return { outcome: result.outcome, detail: result.detail };
  };
}
