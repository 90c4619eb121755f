import { subscriptionHandler } from './subscription-handler';

/** `customer.subscription.created`: adds the subscription to the mirror. */
export const subscriptionCreatedHandler = subscriptionHandler({ deleted: false });
