import type Stripe from 'stripe';
import { fromStripeTime } from './stripe-values';

export interface RemoteSubscriptionItem {
  id: string;
  priceId: string | null;
  quantity: number | null;
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
}

/** A Stripe subscription as the `stripe_subscriptions` mirror keeps it. */
export interface RemoteSubscription {
  id: string;
  customerId: string;
  /**
   * Stripe's word (active, past_due, canceled, …), mirrored as it is: nothing branches on it, and a status Stripe
   * adds later is kept rather than lost.
   */
  status: string;
  cancelAtPeriodEnd: boolean;
  canceledAt: Date | null;
  endedAt: Date | null;
  /** Since API 2025-03-31 the billing period lives on the items. */
  items: RemoteSubscriptionItem[];
  metadata: Record<string, string>;
}

export function toRemoteSubscription(subscription: Stripe.Subscription): RemoteSubscription {
  const customer = subscription.customer;
  return {
    id: subscription.id,
    customerId: typeof customer === 'string' ? customer : customer.id,
    status: subscription.status,
    cancelAtPeriodEnd: subscription.cancel_at_period_end === true,
    canceledAt: fromStripeTime(subscription.canceled_at),
    endedAt: fromStripeTime(subscription.ended_at),
    items: (subscription.items?.data ?? []).map((item) => ({
      id: item.id,
      priceId: (typeof item.price === 'string' ? item.price : item.price?.id) ?? null,
      quantity: item.quantity ?? null,
      currentPeriodStart: fromStripeTime(item.current_period_start),
      currentPeriodEnd: fromStripeTime(item.current_period_end),
    })),
    metadata: { ...(subscription.metadata ?? {}) },
  };
}
