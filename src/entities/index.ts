import { BillableMetric } from './billable-metric.entity';
import { BillingRunItem } from './billing-run-item.entity';
import { BillingRun } from './billing-run.entity';
import { CreditNote } from './credit-note.entity';
import { Customer } from './customer.entity';
import { DunningSchedule } from './dunning-schedule.entity';
import { InvoiceLine } from './invoice-line.entity';
import { InvoiceNumberSequence } from './invoice-number-sequence.entity';
import { OutgoingDeliveryAttempt } from './outgoing-delivery-attempt.entity';
import { OutgoingDelivery } from './outgoing-delivery.entity';
import { OutgoingEvent } from './outgoing-event.entity';
import { InvoiceStatusChange } from './invoice-status-change.entity';
import { Invoice } from './invoice.entity';
import { PaymentAttempt } from './payment-attempt.entity';
import { PaymentLimitLift } from './payment-limit-lift.entity';
import { Price } from './price.entity';
import { StripeSubscription } from './stripe-subscription.entity';
import { UsageBillingClaim } from './usage-billing-claim.entity';
import { UsageIdempotencyKey } from './usage-idempotency-key.entity';
import { UsageDeadLetter } from './usage-dead-letter.entity';
import { UsageRecord } from './usage-record.entity';
import { UsageRollup } from './usage-rollup.entity';
import { WebhookEndpoint } from './webhook-endpoint.entity';
import { WebhookEvent } from './webhook-event.entity';

export * from './enums';
export type { PriceTier } from './price.entity';
export type { CreditNoteLineData } from './credit-note.entity';
export type { EndpointSecret } from './webhook-endpoint.entity';
export {
  BillableMetric,
  CreditNote,
  Customer,
  DunningSchedule,
  Invoice,
  InvoiceLine,
  InvoiceNumberSequence,
  InvoiceStatusChange,
  OutgoingDelivery,
  OutgoingDeliveryAttempt,
  OutgoingEvent,
  PaymentAttempt,
  PaymentLimitLift,
  Price,
  StripeSubscription,
  UsageBillingClaim,
  UsageIdempotencyKey,
  UsageDeadLetter,
  UsageRecord,
  UsageRollup,
  WebhookEndpoint,
  WebhookEvent,
};

/** Every entity, listed explicitly (no folder globbing), so `ts` and compiled `js` runs see the same set. */
export const ENTITIES = [
  BillableMetric,
  BillingRun,
  BillingRunItem,
  CreditNote,
  Customer,
  DunningSchedule,
  Invoice,
  InvoiceLine,
  InvoiceNumberSequence,
  InvoiceStatusChange,
  OutgoingDelivery,
  OutgoingDeliveryAttempt,
  OutgoingEvent,
  PaymentAttempt,
  PaymentLimitLift,
  Price,
  StripeSubscription,
  UsageBillingClaim,
  UsageIdempotencyKey,
  UsageDeadLetter,
  UsageRecord,
  UsageRollup,
  WebhookEndpoint,
  WebhookEvent,
];
