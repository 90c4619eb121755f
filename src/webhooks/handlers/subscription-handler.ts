import type Stripe from 'stripe';
import { mirrorStripeSubscription } from '../../services/mirror-stripe-subscription.service';
import type { WebhookHandler } from '../handler.types';

/** The three subscription events share one mirror update; only deletion differs. */
export function subscriptionHandler(options: { deleted: boolean }): WebhookHandler {
  return async ({ em, event }) => {
    const result = await mirrorStripeSubscription(em, {
      event,
      subscription: event.data.object as Stripe.Subscription,
      deleted: options.deleted,
    });
    return { outcome: result.outcome, detail: result.detail };
  };
}
