import type { WebhookHandler } from './handler.types';
import { chargeRefundedHandler } from './handlers/charge-refunded.handler';
import { creditNoteHandler } from './handlers/credit-note.handler';
import { invoiceFinalizedHandler } from './handlers/invoice-finalized.handler';
import { invoiceMarkedUncollectibleHandler } from './handlers/invoice-marked-uncollectible.handler';
import { invoicePaidHandler } from './handlers/invoice-paid.handler';
import { invoicePaymentActionRequiredHandler } from './handlers/invoice-payment-action-required.handler';
import { invoicePaymentFailedHandler } from './handlers/invoice-payment-failed.handler';
import { invoicePaymentSucceededHandler } from './handlers/invoice-payment-succeeded.handler';
import { invoiceSentHandler } from './handlers/invoice-sent.handler';
import { invoiceUpdatedHandler } from './handlers/invoice-updated.handler';
import { invoiceVoidedHandler } from './handlers/invoice-voided.handler';
import { paymentIntentPaymentFailedHandler } from './handlers/payment-intent-payment-failed.handler';
import { subscriptionCreatedHandler } from './handlers/subscription-created.handler';
import { subscriptionDeletedHandler } from './handlers/subscription-deleted.handler';
import { subscriptionUpdatedHandler } from './handlers/subscription-updated.handler';

/** The Stripe event types this server applies. */
export type HandledEventType =
  | 'invoice.finalized'
  | 'invoice.sent'
  | 'invoice.paid'
  | 'invoice.payment_succeeded'
  | 'invoice.payment_failed'
  | 'invoice.payment_action_required'
  | 'invoice.voided'
  | 'invoice.marked_uncollectible'
  | 'invoice.updated'
  | 'payment_intent.payment_failed'
  | 'charge.refunded'
  | 'credit_note.created'
  | 'credit_note.voided'
  | 'customer.subscription.created'
  | 'customer.subscription.updated'
  | 'customer.subscription.deleted';

export type DispatchTable = Partial<Record<HandledEventType, WebhookHandler>>;

/** Event type → handler. A type not listed is stored and marked `ignored` (invariant 4: never a 4xx). */
export const DISPATCH_TABLE: Record<HandledEventType, WebhookHandler> = {
  'invoice.finalized': invoiceFinalizedHandler,
  'invoice.sent': invoiceSentHandler,
  'invoice.paid': invoicePaidHandler,
  'invoice.payment_succeeded': invoicePaymentSucceededHandler,
  'invoice.payment_failed': invoicePaymentFailedHandler,
  'invoice.payment_action_required': invoicePaymentActionRequiredHandler,
  'invoice.voided': invoiceVoidedHandler,
  'invoice.marked_uncollectible': invoiceMarkedUncollectibleHandler,
  'invoice.updated': invoiceUpdatedHandler,
  'payment_intent.payment_failed': paymentIntentPaymentFailedHandler,
  'charge.refunded': chargeRefundedHandler,
  'credit_note.created': creditNoteHandler,
  'credit_note.voided': creditNoteHandler,
  'customer.subscription.created': subscriptionCreatedHandler,
  'customer.subscription.updated': subscriptionUpdatedHandler,
  'customer.subscription.deleted': subscriptionDeletedHandler,
};

/**
 * The handler for an event type, or undefined. Own keys only: a signed event whose type is `constructor` or
 * `__proto__` must find no handler (and be ignored), not an Object.prototype member.
 */
export function handlerFor(table: DispatchTable, type: string): WebhookHandler | undefined {
  return Object.hasOwn(table, type) ? table[type as keyof DispatchTable] : undefined;
}
