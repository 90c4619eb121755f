/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** ACTIVE: steps to come; RECOVERED: paid; CANCELED: voided, refunded or written off; EXHAUSTED: every step ran. */
export type DunningState =
  | 'ACTIVE'
  | 'CANCELED'
  | 'EXHAUSTED'
  | 'RECOVERED';

export type InvoiceLineKind =
  | 'ADJUSTMENT'
  | 'USAGE';

export type InvoiceStatus =
  | 'DRAFT'
  | 'OPEN'
  | 'PAID'
  | 'PAYMENT_FAILED'
  | 'PROCESSING'
  | 'REQUIRES_ACTION'
  | 'UNCOLLECTIBLE'
  | 'VOID';

/** How a metric turns usage events into a billable quantity for a period. */
export type MetricAggregation =
  | 'COUNT'
  | 'MAX'
  | 'SUM'
  | 'UNIQUE_COUNT';

export type StatusChangeSource =
  | 'API'
  | 'BILLING_RUN'
  | 'RECONCILIATION'
  | 'SYSTEM'
  | 'WEBHOOK';

export type WebhookEventStatus =
  | 'FAILED'
  | 'IGNORED'
  | 'PENDING'
  | 'PROCESSED'
  | 'PROCESSING';

export type CustomersQueryVariables = Exact<{
  search?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type CustomersQuery = { customers: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, userId: string, name: string | null, email: string | null, createdAt: string } }> } };

export type BillingRunFieldsFragment = { id: string, period: string, status: string, trigger: string, triggeredBy: string | null, startedAt: string, heartbeatAt: string, finishedAt: string | null, total: number, pending: number, processing: number, done: number, failed: number, skipped: number, failures: Array<{ userId: string, status: string, attempts: number, error: string }> };

export type BillingRunsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type BillingRunsQuery = { billingRuns: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, period: string, status: string, trigger: string, triggeredBy: string | null, startedAt: string, heartbeatAt: string, finishedAt: string | null, total: number, pending: number, processing: number, done: number, failed: number, skipped: number, failures: Array<{ userId: string, status: string, attempts: number, error: string }> } }> } };

export type RunBillingMutationVariables = Exact<{
  period: string;
}>;


export type RunBillingMutation = { runBilling:
    | { __typename: 'BillingRun', id: string, period: string, status: string, trigger: string, triggeredBy: string | null, startedAt: string, heartbeatAt: string, finishedAt: string | null, total: number, pending: number, processing: number, done: number, failed: number, skipped: number, failures: Array<{ userId: string, status: string, attempts: number, error: string }> }
    | { __typename: 'PeriodNotEnded', code: string, message: string }
   };

export type BillingRunProgressedSubscriptionVariables = Exact<{
  period: string;
}>;


export type BillingRunProgressedSubscription = { billingRunProgressed: { id: string, period: string, status: string, trigger: string, triggeredBy: string | null, startedAt: string, heartbeatAt: string, finishedAt: string | null, total: number, pending: number, processing: number, done: number, failed: number, skipped: number, failures: Array<{ userId: string, status: string, attempts: number, error: string }> } };

export type WebhookEventFieldsFragment = { id: string, type: string, status: WebhookEventStatus, attempts: number, lastError: string | null, objectId: string | null, receivedAt: string, processedAt: string | null };

export type WebhookEventsQueryVariables = Exact<{
  type?: string | null | undefined;
  status?: WebhookEventStatus | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type WebhookEventsQuery = { webhookEvents: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, type: string, status: WebhookEventStatus, attempts: number, lastError: string | null, objectId: string | null, receivedAt: string, processedAt: string | null } }> } };

export type WebhookEventQueryVariables = Exact<{
  id: string;
}>;


export type WebhookEventQuery = { webhookEvent: { id: string, type: string, status: WebhookEventStatus, attempts: number, lastError: string | null, objectId: string | null, receivedAt: string, processedAt: string | null } };

export type ReplayWebhookEventMutationVariables = Exact<{
  id: string;
}>;


export type ReplayWebhookEventMutation = { replayWebhookEvent: { id: string, type: string, status: WebhookEventStatus, attempts: number, lastError: string | null, objectId: string | null, receivedAt: string, processedAt: string | null } };

export type ReconcileDryRunMutationVariables = Exact<{
  period: string;
}>;


export type ReconcileDryRunMutation = { reconcile: { period: string, dryRun: boolean, checked: number, changes: Array<{ invoiceId: string, number: string, action: string, from: string, to: string, applied: boolean }>, orphans: Array<{ stripeInvoiceId: string, number: string | null, status: string | null, amountDueMinor: number, currency: string }>, warnings: Array<{ invoiceId: string, number: string, message: string }>, errors: Array<{ invoiceId: string, number: string, message: string }> } };

export type DunningInvoicesQueryVariables = Exact<{
  period: string;
}>;


export type DunningInvoicesQuery = { dunningInvoices: Array<{ invoice: { id: string, number: string, userId: string, status: InvoiceStatus }, dunning: { step: number, state: DunningState, nextAttemptAt: string | null, lastAttemptAt: string | null, lastOutcome: string | null } }> };

export type InvoicePaymentFieldsFragment = { id: string, number: string, status: InvoiceStatus, paymentUrl: string | null, amountRemaining: { formatted: string }, lastPaymentError: { code: string, declineCode: string | null, message: string, reason: string } | null, requiredAction: { kind: string, message: string, url: string | null } | null, statusHistory: Array<{ to: InvoiceStatus, reason: string | null }> };

export type InvoicePaymentQueryVariables = Exact<{
  id: string;
}>;


export type InvoicePaymentQuery = { invoice: { id: string, number: string, status: InvoiceStatus, paymentUrl: string | null, amountRemaining: { formatted: string }, lastPaymentError: { code: string, declineCode: string | null, message: string, reason: string } | null, requiredAction: { kind: string, message: string, url: string | null } | null, statusHistory: Array<{ to: InvoiceStatus, reason: string | null }> } };

export type InvoicePaymentStatusSubscriptionVariables = Exact<{
  invoiceId?: string | null | undefined;
}>;


export type InvoicePaymentStatusSubscription = { paymentStatusChanged: { changeId: string, status: InvoiceStatus, invoice: { id: string, number: string, status: InvoiceStatus, paymentUrl: string | null, amountRemaining: { formatted: string }, lastPaymentError: { code: string, declineCode: string | null, message: string, reason: string } | null, requiredAction: { kind: string, message: string, url: string | null } | null, statusHistory: Array<{ to: InvoiceStatus, reason: string | null }> } } };

export type InvoicesQueryVariables = Exact<{
  status?: InvoiceStatus | null | undefined;
  period?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type InvoicesQuery = { invoices: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, number: string, userId: string, status: InvoiceStatus, period: string, dueDate: string | null, createdAt: string, amount: { amountMinor: number, currency: string, formatted: string }, amountRemaining: { formatted: string } } }> } };

export type InvoiceQueryVariables = Exact<{
  id: string;
}>;


export type InvoiceQuery = { invoice: { id: string, number: string, userId: string, status: InvoiceStatus, period: string, dueDate: string | null, paymentUrl: string | null, pdfUrl: string | null, isPaid: boolean, voidReason: string | null, createdAt: string, paidAt: string | null, amount: { amountMinor: number, currency: string, formatted: string }, amountPaid: { formatted: string }, amountRemaining: { formatted: string }, lines: Array<{ id: string, kind: InvoiceLineKind, metric: string | null, description: string, quantity: string, billableQuantity: string | null, unitAmount: string | null, amount: { formatted: string } }>, statusHistory: Array<{ from: InvoiceStatus | null, to: InvoiceStatus, source: StatusChangeSource, reason: string | null, occurredAt: string }>, lastPaymentError: { code: string, declineCode: string | null, message: string, reason: string } | null, requiredAction: { kind: string, message: string, url: string | null } | null } };

export type CancelInvoiceMutationVariables = Exact<{
  invoiceId: string;
  reason?: string | null | undefined;
}>;


export type CancelInvoiceMutation = { cancelInvoice:
    | { __typename: 'Invoice', id: string, status: InvoiceStatus }
    | { __typename: 'InvoiceStateError', code: string, message: string }
    | { __typename: 'PaymentProviderUnavailable', code: string, message: string }
   };

export type PaymentStatusChangedSubscriptionVariables = Exact<{
  invoiceId?: string | null | undefined;
}>;


export type PaymentStatusChangedSubscription = { paymentStatusChanged: { changeId: string, status: InvoiceStatus, previousStatus: InvoiceStatus | null, occurredAt: string, reason: string | null, source: StatusChangeSource, invoice: { id: string } } };

export type UsageViewQueryVariables = Exact<{
  period: string;
  userId?: string | null | undefined;
}>;


export type UsageViewQuery = { usageSummary: { userId: string, period: string, currency: string, generatedAt: string, latePeriods: Array<string>, subtotal: { amountMinor: number, currency: string, formatted: string }, lines: Array<{ kind: InvoiceLineKind, usagePeriod: string, description: string, quantity: string, billableQuantity: string, unitAmount: string | null, unpriced: boolean, metric: { code: string, name: string, unit: string }, amount: { formatted: string } }> }, usageDaily: { periodStart: string, periodEnd: string, metrics: Array<{ aggregation: MetricAggregation, metric: { code: string, name: string, unit: string }, days: Array<{ date: string, quantity: string }> }> } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const BillingRunFieldsFragmentDoc = new TypedDocumentString(`
    fragment BillingRunFields on BillingRun {
  id
  period
  status
  trigger
  triggeredBy
  startedAt
  heartbeatAt
  finishedAt
  total
  pending
  processing
  done
  failed
  skipped
  failures {
    userId
    status
    attempts
    error
  }
}
    `, {"fragmentName":"BillingRunFields"}) as unknown as TypedDocumentString<BillingRunFieldsFragment, unknown>;
export const WebhookEventFieldsFragmentDoc = new TypedDocumentString(`
    fragment WebhookEventFields on WebhookEvent {
  id
  type
  status
  attempts
  lastError
  objectId
  receivedAt
  processedAt
}
    `, {"fragmentName":"WebhookEventFields"}) as unknown as TypedDocumentString<WebhookEventFieldsFragment, unknown>;
export const InvoicePaymentFieldsFragmentDoc = new TypedDocumentString(`
    fragment InvoicePaymentFields on Invoice {
  id
  number
  status
  paymentUrl
  amountRemaining {
    formatted
  }
  lastPaymentError {
    code
    declineCode
    message
    reason
  }
  requiredAction {
    kind
    message
    url
  }
  statusHistory {
    to
    reason
  }
}
    `, {"fragmentName":"InvoicePaymentFields"}) as unknown as TypedDocumentString<InvoicePaymentFieldsFragment, unknown>;
export const CustomersDocument = new TypedDocumentString(`
    query Customers($search: String, $first: Int, $after: String) {
  customers(search: $search, first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        id
        userId
        name
        email
        createdAt
      }
    }
  }
}
    `) as unknown as TypedDocumentString<CustomersQuery, CustomersQueryVariables>;
export const BillingRunsDocument = new TypedDocumentString(`
    query BillingRuns($first: Int, $after: String) {
  billingRuns(first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        ...BillingRunFields
      }
    }
  }
}
    fragment BillingRunFields on BillingRun {
  id
  period
  status
  trigger
  triggeredBy
  startedAt
  heartbeatAt
  finishedAt
  total
  pending
  processing
  done
  failed
  skipped
  failures {
    userId
    status
    attempts
    error
  }
}`) as unknown as TypedDocumentString<BillingRunsQuery, BillingRunsQueryVariables>;
export const RunBillingDocument = new TypedDocumentString(`
    mutation RunBilling($period: String!) {
  runBilling(period: $period) {
    __typename
    ... on BillingRun {
      ...BillingRunFields
    }
    ... on PeriodNotEnded {
      code
      message
    }
  }
}
    fragment BillingRunFields on BillingRun {
  id
  period
  status
  trigger
  triggeredBy
  startedAt
  heartbeatAt
  finishedAt
  total
  pending
  processing
  done
  failed
  skipped
  failures {
    userId
    status
    attempts
    error
  }
}`) as unknown as TypedDocumentString<RunBillingMutation, RunBillingMutationVariables>;
export const BillingRunProgressedDocument = new TypedDocumentString(`
    subscription BillingRunProgressed($period: String!) {
  billingRunProgressed(period: $period) {
    ...BillingRunFields
  }
}
    fragment BillingRunFields on BillingRun {
  id
  period
  status
  trigger
  triggeredBy
  startedAt
  heartbeatAt
  finishedAt
  total
  pending
  processing
  done
  failed
  skipped
  failures {
    userId
    status
    attempts
    error
  }
}`) as unknown as TypedDocumentString<BillingRunProgressedSubscription, BillingRunProgressedSubscriptionVariables>;
export const WebhookEventsDocument = new TypedDocumentString(`
    query WebhookEvents($type: String, $status: WebhookEventStatus, $first: Int, $after: String) {
  webhookEvents(type: $type, status: $status, first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        ...WebhookEventFields
      }
    }
  }
}
    fragment WebhookEventFields on WebhookEvent {
  id
  type
  status
  attempts
  lastError
  objectId
  receivedAt
  processedAt
}`) as unknown as TypedDocumentString<WebhookEventsQuery, WebhookEventsQueryVariables>;
export const WebhookEventDocument = new TypedDocumentString(`
    query WebhookEvent($id: ID!) {
  webhookEvent(id: $id) {
    ...WebhookEventFields
  }
}
    fragment WebhookEventFields on WebhookEvent {
  id
  type
  status
  attempts
  lastError
  objectId
  receivedAt
  processedAt
}`) as unknown as TypedDocumentString<WebhookEventQuery, WebhookEventQueryVariables>;
export const ReplayWebhookEventDocument = new TypedDocumentString(`
    mutation ReplayWebhookEvent($id: ID!) {
  replayWebhookEvent(id: $id) {
    ...WebhookEventFields
  }
}
    fragment WebhookEventFields on WebhookEvent {
  id
  type
  status
  attempts
  lastError
  objectId
  receivedAt
  processedAt
}`) as unknown as TypedDocumentString<ReplayWebhookEventMutation, ReplayWebhookEventMutationVariables>;
export const ReconcileDryRunDocument = new TypedDocumentString(`
    mutation ReconcileDryRun($period: String!) {
  reconcile(period: $period, dryRun: true) {
    period
    dryRun
    checked
    changes {
      invoiceId
      number
      action
      from
      to
      applied
    }
    orphans {
      stripeInvoiceId
      number
      status
      amountDueMinor
      currency
    }
    warnings {
      invoiceId
      number
      message
    }
    errors {
      invoiceId
      number
      message
    }
  }
}
    `) as unknown as TypedDocumentString<ReconcileDryRunMutation, ReconcileDryRunMutationVariables>;
export const DunningInvoicesDocument = new TypedDocumentString(`
    query DunningInvoices($period: String!) {
  dunningInvoices(period: $period) {
    invoice {
      id
      number
      userId
      status
    }
    dunning {
      step
      state
      nextAttemptAt
      lastAttemptAt
      lastOutcome
    }
  }
}
    `) as unknown as TypedDocumentString<DunningInvoicesQuery, DunningInvoicesQueryVariables>;
export const InvoicePaymentDocument = new TypedDocumentString(`
    query InvoicePayment($id: ID!) {
  invoice(id: $id) {
    ...InvoicePaymentFields
  }
}
    fragment InvoicePaymentFields on Invoice {
  id
  number
  status
  paymentUrl
  amountRemaining {
    formatted
  }
  lastPaymentError {
    code
    declineCode
    message
    reason
  }
  requiredAction {
    kind
    message
    url
  }
  statusHistory {
    to
    reason
  }
}`) as unknown as TypedDocumentString<InvoicePaymentQuery, InvoicePaymentQueryVariables>;
export const InvoicePaymentStatusDocument = new TypedDocumentString(`
    subscription InvoicePaymentStatus($invoiceId: ID) {
  paymentStatusChanged(invoiceId: $invoiceId) {
    changeId
    status
    invoice {
      ...InvoicePaymentFields
    }
  }
}
    fragment InvoicePaymentFields on Invoice {
  id
  number
  status
  paymentUrl
  amountRemaining {
    formatted
  }
  lastPaymentError {
    code
    declineCode
    message
    reason
  }
  requiredAction {
    kind
    message
    url
  }
  statusHistory {
    to
    reason
  }
}`) as unknown as TypedDocumentString<InvoicePaymentStatusSubscription, InvoicePaymentStatusSubscriptionVariables>;
export const InvoicesDocument = new TypedDocumentString(`
    query Invoices($status: InvoiceStatus, $period: String, $first: Int, $after: String) {
  invoices(status: $status, period: $period, first: $first, after: $after) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      node {
        id
        number
        userId
        status
        period
        amount {
          amountMinor
          currency
          formatted
        }
        amountRemaining {
          formatted
        }
        dueDate
        createdAt
      }
    }
  }
}
    `) as unknown as TypedDocumentString<InvoicesQuery, InvoicesQueryVariables>;
export const InvoiceDocument = new TypedDocumentString(`
    query Invoice($id: ID!) {
  invoice(id: $id) {
    ...InvoicePaymentFields
    id
    number
    userId
    status
    period
    amount {
      amountMinor
      currency
      formatted
    }
    amountPaid {
      formatted
    }
    amountRemaining {
      formatted
    }
    dueDate
    paymentUrl
    pdfUrl
    isPaid
    voidReason
    createdAt
    paidAt
    lines {
      id
      kind
      metric
      description
      quantity
      billableQuantity
      unitAmount
      amount {
        formatted
      }
    }
    statusHistory {
      from
      to
      source
      reason
      occurredAt
    }
  }
}
    fragment InvoicePaymentFields on Invoice {
  id
  number
  status
  paymentUrl
  amountRemaining {
    formatted
  }
  lastPaymentError {
    code
    declineCode
    message
    reason
  }
  requiredAction {
    kind
    message
    url
  }
  statusHistory {
    to
    reason
  }
}`) as unknown as TypedDocumentString<InvoiceQuery, InvoiceQueryVariables>;
export const CancelInvoiceDocument = new TypedDocumentString(`
    mutation CancelInvoice($invoiceId: ID!, $reason: String) {
  cancelInvoice(invoiceId: $invoiceId, reason: $reason) {
    __typename
    ... on Invoice {
      id
      status
    }
    ... on ErrorResult {
      code
      message
    }
  }
}
    `) as unknown as TypedDocumentString<CancelInvoiceMutation, CancelInvoiceMutationVariables>;
export const PaymentStatusChangedDocument = new TypedDocumentString(`
    subscription PaymentStatusChanged($invoiceId: ID) {
  paymentStatusChanged(invoiceId: $invoiceId) {
    changeId
    status
    previousStatus
    occurredAt
    reason
    source
    invoice {
      id
    }
  }
}
    `) as unknown as TypedDocumentString<PaymentStatusChangedSubscription, PaymentStatusChangedSubscriptionVariables>;
export const UsageViewDocument = new TypedDocumentString(`
    query UsageView($period: String!, $userId: String) {
  usageSummary(period: $period, userId: $userId) {
    userId
    period
    currency
    generatedAt
    subtotal {
      amountMinor
      currency
      formatted
    }
    latePeriods
    lines {
      kind
      usagePeriod
      description
      quantity
      billableQuantity
      unitAmount
      unpriced
      metric {
        code
        name
        unit
      }
      amount {
        formatted
      }
    }
  }
  usageDaily(period: $period, userId: $userId) {
    periodStart
    periodEnd
    metrics {
      aggregation
      metric {
        code
        name
        unit
      }
      days {
        date
        quantity
      }
    }
  }
}
    `) as unknown as TypedDocumentString<UsageViewQuery, UsageViewQueryVariables>;