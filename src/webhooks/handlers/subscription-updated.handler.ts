import { subscriptionHandler } from './subscription-handler';

/** `customer.subscription.updated`: refreshes the mirror (status, period, items, cancellation). */
export const subscriptionUpdatedHandler = subscriptionHandler({ deleted: false });
