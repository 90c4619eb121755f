export * from './idempotency-keys';
export type {
  RemoteIntentStatus,
  RemoteInvoice,
  RemoteInvoiceItem,
  RemoteInvoiceStatus,
  RemotePayment,
  RemotePaymentError,
  RemotePaymentIntent,
  RemotePaymentStatus,
} from './invoice-snapshot';
export { METADATA } from './metadata';
export type { RemoteCharge, RemoteCreditNote } from './credit-note-snapshot';
export type { CreateCreditNoteInput } from './credit-notes';
export { RateLimiter, announcedRequestsPerSecond, requestsPerSecondFor } from './rate-limiter';
export type { RateLimiterOptions } from './rate-limiter';
export { toStripeAmount } from './stripe-values';
export { createStripeClient, parseApiBase } from './stripe-client';
export type { StripeClientOptions } from './stripe-client';
export { StripeGatewayError, failedWith, isStripeError, mapStripeError, redactSecrets } from './stripe-errors';
export type { StripeFailure, StripeFailureKind } from './stripe-errors';
export { readStripeEvent, toEventRecord } from './stripe-events';
export type { ListedEvent, RemoteEvent, RemoteEventObject, StripeEventRecord } from './stripe-events';
export { StripeGateway } from './stripe-gateway';
export type { StripeGatewayOptions } from './stripe-gateway';
export type * from './stripe-gateway.types';
export type { RemoteSubscription, RemoteSubscriptionItem } from './subscription-snapshot';
export { TotalMismatchError, assertTotal, describeMismatch, totalMismatch } from './total-guard';
export type { ExpectedTotal, TotalMismatch } from './total-guard';
export { SIGNATURE_TOLERANCE_SECONDS, SignatureError, verifyStripeEvent } from './webhook-events';
export type { SignatureFailureCode } from './webhook-events';
