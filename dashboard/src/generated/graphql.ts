/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
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

export type StatusChangeSource =
  | 'API'
  | 'BILLING_RUN'
  | 'RECONCILIATION'
  | 'SYSTEM'
  | 'WEBHOOK';

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