import Stripe from 'stripe';

/** What our services need to know about a failed Stripe call; never carries the API key. */
export type StripeFailure =
  /** `paymentIntentId`: the invoice's PaymentIntent the 402 names, when it does. */
  | { kind: 'card_declined'; code: string; declineCode: string | null; message: string; paymentIntentId?: string }
  | { kind: 'requires_action'; clientSecret?: string; message: string; paymentIntentId?: string }
  | { kind: 'invalid_state'; message: string; code?: string }
  | { kind: 'not_found'; message: string }
  | { kind: 'rate_limited' }
  /** 5xx, 409 in-flight conflicts, timeouts, connection errors: a write may or may not have happened. */
  | { kind: 'unavailable'; message: string }
  | { kind: 'invalid_request'; message: string; param?: string; code?: string }
  | { kind: 'authentication' };

export type StripeFailureKind = StripeFailure['kind'];

/** Thrown by `StripeGateway` for failures that are not part of a method's result union. */
export class StripeGatewayError extends Error {
  constructor(
    readonly failure: StripeFailure,
    /** Stripe's `Request-Id`, for support tickets; not secret. */
    readonly requestId?: string,
  ) {
    super(`Stripe ${failure.kind}${'message' in failure ? `: ${failure.message}` : ''}`);
    this.name = 'StripeGatewayError';
  }
}

const SECRET_PATTERN = /\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9_*]+|\bwhsec_[A-Za-z0-9_*]+/g;

/** Stripe echoes (masked) API keys in 401 messages; strip anything key-shaped before it reaches a log. */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_PATTERN, '[redacted]');
}

/**
 * 400 codes (and codeless messages) Stripe uses when an action does not fit the invoice's status, e.g.
 * paying a paid or void invoice, voiding a draft, re-finalizing an open invoice.
 */
const INVALID_STATE_CODES = new Set([
  'invoice_not_editable',
  'invoice_already_paid',
  'invoice_not_open',
  'invoice_payment_intent_unexpected_state',
  'payment_intent_unexpected_state',
]);
const INVALID_STATE_MESSAGE = /already (paid|finalized)|re-finalize|non-draft|has been voided|voided invoice/i;

export function isStripeError(error: unknown): error is Stripe.errors.StripeError {
  return error instanceof Stripe.errors.StripeError;
}

export function mapStripeError(error: Stripe.errors.StripeError): StripeFailure {
  const message = redactSecrets(error.message || 'Stripe request failed');
  const status = error.statusCode;
  if (error instanceof Stripe.errors.StripeConnectionError || status === undefined) {
    return { kind: 'unavailable', message };
  }
  if (status === 401 || status === 403) {
    return { kind: 'authentication' };
  }
  if (status === 429 || error.code === 'rate_limit') {
    return { kind: 'rate_limited' };
  }
  // 409 `idempotency_key_in_use`: another request with our key is still running; its outcome is unknown.
  if (status >= 500 || status === 409) {
    return { kind: 'unavailable', message };
  }
  if (status === 402) {
    const paymentIntentId = error.payment_intent?.id;
    const intent = paymentIntentId ? { paymentIntentId } : {};
    if (error.code === 'invoice_payment_intent_requires_action') {
      const clientSecret = error.payment_intent?.client_secret ?? undefined;
      return { kind: 'requires_action', message, ...(clientSecret ? { clientSecret } : {}), ...intent };
    }
    return {
      kind: 'card_declined',
      code: error.code ?? 'card_declined',
      declineCode: declineCode(error),
      message,
      ...intent,
    };
  }
  // A key reused with different parameters (e.g. a retry after a crash that changed the request).
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return { kind: 'invalid_request', message, code: error.code ?? 'idempotency_error' };
  }
  // A missing parameter object (e.g. `payment_method`) is a bad request; a missing path object is not found.
  if (status === 404 && (!error.param || error.param === 'id')) {
    return { kind: 'not_found', message };
  }
  if ((error.code && INVALID_STATE_CODES.has(error.code)) || (!error.code && INVALID_STATE_MESSAGE.test(message))) {
    return { kind: 'invalid_state', message, ...(error.code ? { code: error.code } : {}) };
  }
  return {
    kind: 'invalid_request',
    message,
    ...(error.param ? { param: error.param } : {}),
    ...(error.code ? { code: error.code } : {}),
  };
}

/** The SDK sets `decline_code` to '' on card errors that have none. */
function declineCode(error: Stripe.errors.StripeError): string | null {
  return error.decline_code ? error.decline_code : null;
}

/** Maps SDK errors to a `StripeGatewayError`; anything else (a bug on our side) is rethrown unchanged. */
export function toGatewayError(error: unknown): unknown {
  if (!isStripeError(error)) {
    return error;
  }
  return new StripeGatewayError(mapStripeError(error), error.requestId);
}

/** True when `error` is a gateway failure of one of these kinds. */
export function failedWith(error: unknown, ...kinds: StripeFailureKind[]): error is StripeGatewayError {
  return error instanceof StripeGatewayError && kinds.includes(error.failure.kind);
}
