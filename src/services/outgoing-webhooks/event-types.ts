import { InvoiceStatus } from '../../entities/enums';

/**
 * Every event type the platform can subscribe an endpoint to: the one list (GraphQL, REST, the OpenAPI document and
 * the docs read it). A new kind of event (`invoice.refunded`, `credit_note.created`, dunning steps…) is added here,
 * then written with `recordOutgoingEvent` (or, for a status change, mapped in `STATUS_EVENT_TYPES`) in the
 * transaction of the change that causes it.
 */
export const OUTGOING_EVENT_TYPES = [
  'invoice.created',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.payment_action_required',
  'invoice.voided',
  'invoice.uncollectible',
  'invoice.refunded',
  'credit_note.created',
  'credit_note.voided',
  'billing_run.completed',
] as const;

export type OutgoingEventType = (typeof OUTGOING_EVENT_TYPES)[number];

export function isOutgoingEventType(type: string): type is OutgoingEventType {
  return (OUTGOING_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * The event a status change sends, by the status it reaches (`transitionInvoice` writes it; a new invoice's DRAFT is
 * `invoice.created`). PROCESSING sends nothing: it is our own wait for Stripe's answer, not news for the platform.
 */
export const STATUS_EVENT_TYPES: Readonly<Partial<Record<InvoiceStatus, OutgoingEventType>>> = {
  [InvoiceStatus.DRAFT]: 'invoice.created',
  [InvoiceStatus.OPEN]: 'invoice.finalized',
  [InvoiceStatus.PAID]: 'invoice.paid',
  [InvoiceStatus.PAYMENT_FAILED]: 'invoice.payment_failed',
  [InvoiceStatus.REQUIRES_ACTION]: 'invoice.payment_action_required',
  [InvoiceStatus.VOID]: 'invoice.voided',
  [InvoiceStatus.UNCOLLECTIBLE]: 'invoice.uncollectible',
};
