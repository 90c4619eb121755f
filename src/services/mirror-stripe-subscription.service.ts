import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import { Customer, StripeSubscription } from '../entities';
import type { StripeEventRef } from './apply-stripe-invoice-event.service';

export interface MirrorSubscriptionResult {
  outcome: 'processed';
  detail: string;
  changed: boolean;
}

const seconds = (value: number | null | undefined): Date | null => (value ? new Date(value * 1000) : null);

/**
 * Keeps the `stripe_subscriptions` mirror current from `customer.subscription.*` events, inside the caller's
 * transaction. Events older than the last one applied are skipped; at an equal second a deletion is final.
 * Since API 2025-03-31 the billing period lives on the items, so the mirror takes it from the first item.
 */
export async function mirrorStripeSubscription(
  em: EntityManager,
  input: { event: StripeEventRef; subscription: Stripe.Subscription; deleted: boolean },
): Promise<MirrorSubscriptionResult> {
  const { event, subscription, deleted } = input;
  const stripeCustomerId = typeof subscription.customer === 'string' ? subscription.customer : subscription.customer.id;
  // Insert-if-missing first, so two workers racing on a new subscription both end up locking one row.
  await em.execute(
    `insert into stripe_subscriptions (id, stripe_customer_id, status) values (?, ?, ?) on conflict (id) do nothing`,
    [subscription.id, stripeCustomerId, subscription.status],
    'run',
  );
  const row = await em.findOneOrFail(StripeSubscription, subscription.id, {
    lockMode: LockMode.PESSIMISTIC_WRITE,
    refresh: true,
  });
  const eventAt = new Date(event.created * 1000);
  if (row.lastEventAt && eventAt.getTime() < row.lastEventAt.getTime()) {
    return { outcome: 'processed', detail: 'older than the last applied event; skipped', changed: false };
  }
  if (row.lastEventAt && eventAt.getTime() === row.lastEventAt.getTime() && row.status === 'canceled' && !deleted) {
    return { outcome: 'processed', detail: 'already deleted in the same second; skipped', changed: false };
  }
  const firstItem = subscription.items?.data?.[0];
  row.stripeCustomerId = stripeCustomerId;
  row.customer = (await em.findOne(Customer, { stripeCustomerId })) ?? row.customer ?? null;
  row.status = deleted ? 'canceled' : subscription.status;
  row.currentPeriodStart = seconds(firstItem?.current_period_start);
  row.currentPeriodEnd = seconds(firstItem?.current_period_end);
  row.cancelAtPeriodEnd = subscription.cancel_at_period_end === true;
  row.canceledAt = seconds(subscription.canceled_at) ?? (deleted ? (seconds(subscription.ended_at) ?? eventAt) : null);
  row.items = (subscription.items?.data ?? []).map((item) => ({
    id: item.id,
    price: typeof item.price === 'string' ? item.price : item.price?.id,
    quantity: item.quantity ?? null,
    currentPeriodStart: item.current_period_start,
    currentPeriodEnd: item.current_period_end,
  }));
  row.metadata = { ...(subscription.metadata ?? {}) };
  row.lastEventAt = eventAt;
  await em.flush();
  return { outcome: 'processed', detail: deleted ? 'marked canceled' : `mirrored (${row.status})`, changed: true };
}
