import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Customer, StripeSubscription } from '../../entities';
import type { RemoteSubscription } from '../../stripe';
import type { StripeEventRef } from './apply-stripe-invoice-event.service';

export interface MirrorSubscriptionResult {
  outcome: 'processed';
  detail: string;
  changed: boolean;
}

/** The items' periods stay in Stripe's Unix seconds, as the rows written so far hold them. */
const seconds = (date: Date | null): number | undefined => (date ? date.getTime() / 1000 : undefined);

/**
 * Keeps the `stripe_subscriptions` mirror current from `customer.subscription.*` events, inside the caller's
 * transaction. Events older than the last one applied are skipped; at an equal second a deletion is final.
 * Since API 2025-03-31 the billing period lives on the items, so the mirror takes it from the first item.
 */
export async function mirrorStripeSubscription(
  em: EntityManager,
  input: { event: StripeEventRef; subscription: RemoteSubscription; deleted: boolean },
): Promise<MirrorSubscriptionResult> {
  const { event, subscription, deleted } = input;
  const stripeCustomerId = subscription.customerId;
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
  const eventAt = event.created;
  if (row.lastEventAt && eventAt.getTime() < row.lastEventAt.getTime()) {
    return { outcome: 'processed', detail: 'older than the last applied event; skipped', changed: false };
  }
  if (row.lastEventAt && eventAt.getTime() === row.lastEventAt.getTime() && row.status === 'canceled' && !deleted) {
    return { outcome: 'processed', detail: 'already deleted in the same second; skipped', changed: false };
  }
  const firstItem = subscription.items[0];
  row.stripeCustomerId = stripeCustomerId;
  row.customer = (await em.findOne(Customer, { stripeCustomerId })) ?? row.customer ?? null;
  row.status = deleted ? 'canceled' : subscription.status;
  row.currentPeriodStart = firstItem?.currentPeriodStart ?? null;
  row.currentPeriodEnd = firstItem?.currentPeriodEnd ?? null;
  row.cancelAtPeriodEnd = subscription.cancelAtPeriodEnd;
  row.canceledAt = subscription.canceledAt ?? (deleted ? (subscription.endedAt ?? eventAt) : null);
  row.items = subscription.items.map((item) => ({
    id: item.id,
    price: item.priceId ?? undefined,
    quantity: item.quantity,
    currentPeriodStart: seconds(item.currentPeriodStart),
    currentPeriodEnd: seconds(item.currentPeriodEnd),
  }));
  row.metadata = { ...subscription.metadata };
  row.lastEventAt = eventAt;
  await em.flush();
  return { outcome: 'processed', detail: deleted ? 'marked canceled' : `mirrored (${row.status})`, changed: true };
}
