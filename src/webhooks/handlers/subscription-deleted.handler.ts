import { subscriptionHandler } from './subscription-handler';

/** `customer.subscription.deleted`: the subscription ended; the mirror keeps it as `canceled`. */
export const subscriptionDeletedHandler = subscriptionHandler({ deleted: true });
