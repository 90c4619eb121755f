import type Stripe from 'stripe';

/** Stripe's error body (`{ error: {...} }`) and the HTTP status that carries it. */
export interface StripeErrorBody {
  type: 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: Stripe.PaymentIntent;
  payment_method?: Record<string, unknown>;
  request_log_url?: string;
}

export class StripeApiError extends Error {
  readonly body: StripeErrorBody;
  constructor(
    readonly status: number,
    body: StripeErrorBody,
    /** Validation errors happen before the endpoint runs: Stripe does not store them for idempotent replay. */
    readonly beforeExecution = false,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
    this.body = body.code && !body.doc_url ? { ...body, doc_url: docUrl(body.code) } : body;
  }
}

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

export function resourceMissing(resource: string, id: string, param = 'id'): StripeApiError {
  return new StripeApiError(404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such ${resource}: '${id}'`,
    param,
  });
}

export function paramMissing(param: string): StripeApiError {
  return new StripeApiError(
    400,
    { type: 'invalid_request_error', code: 'parameter_missing', message: `Missing required param: ${param}.`, param },
    true,
  );
}

export function paramInvalid(param: string, message: string, code = 'parameter_invalid'): StripeApiError {
  return new StripeApiError(400, { type: 'invalid_request_error', code, message, param }, true);
}

export function paramUnknown(param: string): StripeApiError {
  return new StripeApiError(
    400,
    {
      type: 'invalid_request_error',
      code: 'parameter_unknown',
      message: `Received unknown parameter: ${param}`,
      param,
    },
    true,
  );
}

/** A request that is well formed but not allowed in the object's current state. */
export function invalidState(message: string, code?: string, param?: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'invalid_request_error',
    message,
    ...(code ? { code } : {}),
    ...(param ? { param } : {}),
  });
}

export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return new StripeApiError(404, {
    type: 'invalid_request_error',
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });
}

export function authError(message: string): StripeApiError {
  return new StripeApiError(401, { type: 'invalid_request_error', message });
}

/**
 * Stripe's 429 for a request over the rate limit, one shape for the limiter and the `429` fault: code `rate_limit`,
 * `Stripe-Rate-Limited-Reason` naming the limiter (`global-rate`: the account's requests per second). It carries no
 * `Stripe-Should-Retry`: Stripe sends `true` on the 429s it wants repeated (lock timeouts), not on rate limits, so
 * the SDK does not retry them (its `maxNetworkRetries` never covers a rate limit); backing off is the client's call.
 * `shouldRetry: false` adds `Stripe-Should-Retry: false` (the `429` fault; with `true` the fault answers the lock
 * timeout's 429 instead, `lockTimeoutError`, the one 429 Stripe asks to be repeated).
 */
export function rateLimitError(shouldRetry: boolean | null = null, reason = 'global-rate'): StripeApiError {
  return new StripeApiError(
    429,
    {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message:
        'Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.',
    },
    true,
    {
      'Stripe-Rate-Limited-Reason': reason,
      ...(shouldRetry === null ? {} : { 'Stripe-Should-Retry': String(shouldRetry) }),
    },
  );
}

/**
 * Stripe's 429 for a write to an object another request or Stripe process holds (its lock): code `lock_timeout`,
 * `Stripe-Should-Retry: true`, so the SDK retries it (after its back-off) with the same idempotency key. Not stored
 * for idempotent replay: the request never ran.
 */
export function lockTimeoutError(): StripeApiError {
  return new StripeApiError(
    429,
    {
      type: 'invalid_request_error',
      code: 'lock_timeout',
      message:
        'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate. See https://stripe.com/docs/rate-limits for more details.',
    },
    true,
    { 'Stripe-Should-Retry': 'true' },
  );
}

export function apiError(message = 'An unknown error occurred'): StripeApiError {
  return new StripeApiError(500, { type: 'api_error', message });
}
