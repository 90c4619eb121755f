/** Invoice lifecycle; the allowed moves live in one table in `src/services/invoicing/invoice-status.ts`. */
export enum InvoiceStatus {
  DRAFT = 'DRAFT',
  OPEN = 'OPEN',
  PROCESSING = 'PROCESSING',
  REQUIRES_ACTION = 'REQUIRES_ACTION',
  PAYMENT_FAILED = 'PAYMENT_FAILED',
  PAID = 'PAID',
  VOID = 'VOID',
  UNCOLLECTIBLE = 'UNCOLLECTIBLE',
}

/** What caused a status change (kept in the history with a reference such as a user id or event id). */
export enum StatusChangeSource {
  API = 'API',
  WEBHOOK = 'WEBHOOK',
  RECONCILIATION = 'RECONCILIATION',
  BILLING_RUN = 'BILLING_RUN',
  SYSTEM = 'SYSTEM',
}

/** REFUND: a paid invoice's money goes back (Stripe post-payment credit note); CREDIT: an open invoice asks less. */
export enum CreditNoteKind {
  REFUND = 'REFUND',
  CREDIT = 'CREDIT',
}

export enum CreditNoteStatus {
  PENDING = 'PENDING',
  ISSUED = 'ISSUED',
  FAILED = 'FAILED',
  VOID = 'VOID',
}

export enum Role {
  USER = 'user',
  ADMIN = 'admin',
  SERVICE = 'service',
}

export enum MetricAggregation {
  SUM = 'sum',
  COUNT = 'count',
  MAX = 'max',
  UNIQUE_COUNT = 'unique_count',
}

export enum PriceModel {
  PER_UNIT = 'per_unit',
  GRADUATED = 'graduated',
  VOLUME = 'volume',
  PACKAGE = 'package',
}

export enum InvoiceLineKind {
  USAGE = 'usage',
  ADJUSTMENT = 'adjustment',
}

export enum PaymentAttemptStatus {
  PENDING = 'pending',
  SUCCEEDED = 'succeeded',
  DECLINED = 'declined',
  REQUIRES_ACTION = 'requires_action',
  UNKNOWN = 'unknown',
}

/** What a payment attempt limit counts: one invoice's failed attempts, or all of one user's. */
export enum PaymentLimitScope {
  INVOICE = 'INVOICE',
  USER = 'USER',
}

export enum WebhookEventStatus {
  PENDING = 'pending',
  PROCESSING = 'processing',
  PROCESSED = 'processed',
  IGNORED = 'ignored',
  FAILED = 'failed',
}

export enum BillingRunStatus {
  RUNNING = 'running',
  COMPLETED = 'completed',
}

export enum BillingRunItemStatus {
  PENDING = 'pending',
  /** Claimed by an instance until `leaseUntil`; an expired lease (a crash) makes it claimable again. */
  PROCESSING = 'processing',
  DONE = 'done',
  FAILED = 'failed',
  SKIPPED = 'skipped',
}

/** Where an invoice is in dunning (`dunning_schedules.state`). */
export enum DunningState {
  /** Steps are due on `nextAttemptAt`. */
  ACTIVE = 'ACTIVE',
  /** Paid: left dunning. */
  RECOVERED = 'RECOVERED',
  /** Voided, refunded or marked uncollectible by someone else: left dunning. */
  CANCELED = 'CANCELED',
  /** Every step ran and the invoice is still unpaid; the final action (if any) was taken. */
  EXHAUSTED = 'EXHAUSTED',
}

/** An endpoint of ours that the platform registered for outgoing webhooks. */
export enum WebhookEndpointStatus {
  ACTIVE = 'active',
  /** By an admin, or automatically after its deliveries failed for the whole retry window. */
  DISABLED = 'disabled',
}

/** One outgoing event on its way to one endpoint. */
export enum OutgoingDeliveryStatus {
  PENDING = 'pending',
  /** Claimed by an instance until `leaseUntil`; an expired lease (a crash) makes it claimable again. */
  DELIVERING = 'delivering',
  DELIVERED = 'delivered',
  /** Every attempt of the retry window failed; replayable. */
  FAILED = 'failed',
}
