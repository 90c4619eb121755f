import type { Response } from 'express';
import type { Logger } from '../config/logger';
import { DomainError, isDependencyUnavailable } from '../services/shared/errors';
import { JSON_TOO_DEEP_MESSAGE } from '../schema/limits';
import { UNSTORABLE_TEXT_MESSAGE } from '../schema/storable-text';
import { JSON_TOO_DEEP } from './json-body';
import { StripeGatewayError } from '../stripe';
import { stringifyExact } from './exact-json';

/**
 * The one error shape of every REST route (billing, usage, webhooks, unknown paths), and the one place where a
 * failure becomes an HTTP status: `{ "success": false, "error": { "code", "message", ...details } }`, codes in
 * snake_case, never a stack trace.
 */

export interface HttpResult {
  status: number;
  body: object;
  headers?: Record<string, string>;
}

/** A request the route itself refuses before any service runs (malformed query, body or JSON). */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 415 | 422,
    readonly code: string,
    message: string,
    /** Extra fields of the error body, e.g. `param`, the parameter at fault. */
    readonly details: object = {},
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** The error body, for routes that write their response themselves (the webhook intake). */
export function errorBody(code: string, message: string, details: object = {}) {
  return { success: false as const, error: { code, message, ...details } };
}

export const ok = (body: object): HttpResult => ({ status: 200, body: { success: true, ...body } });

export function failure(
  status: number,
  code: string,
  message: string,
  details: object = {},
  headers?: Record<string, string>,
): HttpResult {
  return { status, body: errorBody(code, message, details), ...(headers ? { headers } : {}) };
}

/** What a client is told while the database (or another dependency) cannot be reached; never its error text. */
export const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable; send the same request again shortly';

/** Stripe failed before the outcome was known; the service left things resumable, so a retry is the remedy. */
export const RETRY = { 'Retry-After': '5' };

/** Services name inputs as GraphQL does; REST clients know the parameter by its REST name and status. */
const BAD_INPUT: Record<string, { status: number; code: string; param: string }> = {
  period: { status: 400, code: 'invalid_month', param: 'month' },
  first: { status: 400, code: 'invalid_limit', param: 'limit' },
  after: { status: 400, code: 'invalid_cursor', param: 'cursor' },
  events: { status: 400, code: 'invalid_request', param: 'events' },
  paymentMethodId: { status: 422, code: 'invalid_payment_method', param: 'payment_method_id' },
  reason: { status: 422, code: 'validation_error', param: 'reason' },
  // Missing, malformed or reused for another request: REST clients send it as the Idempotency-Key header.
  idempotencyKey: { status: 400, code: 'invalid_request', param: 'Idempotency-Key' },
  // Outgoing webhook endpoints.
  url: { status: 422, code: 'validation_error', param: 'url' },
  eventTypes: { status: 422, code: 'validation_error', param: 'event_types' },
  ratePerSecond: { status: 422, code: 'validation_error', param: 'rate_per_second' },
  overlapHours: { status: 422, code: 'validation_error', param: 'overlap_hours' },
  from: { status: 422, code: 'validation_error', param: 'from' },
};

const DOMAIN: Record<Exclude<DomainError['code'], 'BAD_USER_INPUT'>, { status: number; code: string }> = {
  UNAUTHENTICATED: { status: 401, code: 'unauthenticated' },
  FORBIDDEN: { status: 403, code: 'forbidden' },
  NOT_FOUND: { status: 404, code: 'not_found' },
  SERVICE_UNAVAILABLE: { status: 503, code: 'service_unavailable' },
};

/** body-parser's failures carry `type`; their messages may quote the body, so fixed texts are sent instead. */
const BODY_ERRORS: Record<string, { status: 400 | 413 | 415; code: string; message: string }> = {
  'entity.parse.failed': { status: 400, code: 'invalid_json', message: 'The request body is not valid JSON' },
  'entity.too.large': { status: 413, code: 'payload_too_large', message: 'The request body is too large' },
  'charset.unsupported': { status: 415, code: 'unsupported_media_type', message: 'Send the body as UTF-8 JSON' },
  'encoding.unsupported': { status: 415, code: 'unsupported_media_type', message: 'Unsupported content encoding' },
  [JSON_TOO_DEEP]: { status: 400, code: 'invalid_request', message: JSON_TOO_DEEP_MESSAGE },
};

/** Every failure → the error body; unexpected ones are logged, never described. */
export function errorResult(error: unknown, log?: Logger): HttpResult {
  if (error instanceof RequestError) {
    return failure(error.status, error.code, error.message, error.details);
  }
  if (error instanceof DomainError) {
    if (error.code === 'BAD_USER_INPUT') {
      const field = 'field' in error && typeof error.field === 'string' ? error.field : undefined;
      const known = field ? BAD_INPUT[field] : undefined;
      if (known && field) {
        return failure(known.status, known.code, error.message.replace(field, known.param), { param: known.param });
      }
      return failure(422, 'validation_error', error.message);
    }
    const mapped = DOMAIN[error.code];
    const headers =
      error.code === 'UNAUTHENTICATED'
        ? { 'WWW-Authenticate': 'Bearer' }
        : error.code === 'SERVICE_UNAVAILABLE'
          ? RETRY
          : undefined;
    return failure(mapped.status, mapped.code, error.message, {}, headers);
  }
  const bodyError =
    typeof error === 'object' && error !== null && 'type' in error ? BODY_ERRORS[String(error.type)] : null;
  if (bodyError) {
    // The one parse failure whose message is ours (text that cannot be stored); others may quote the body.
    const message =
      error instanceof Error && error.message === UNSTORABLE_TEXT_MESSAGE ? error.message : bodyError.message;
    return failure(bodyError.status, bodyError.code, message);
  }
  const bodyStatus =
    typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number'
      ? error.status
      : undefined;
  if (bodyStatus !== undefined && bodyStatus >= 400 && bodyStatus < 500) {
    // Any other client-side body failure (a corrupt gzip/deflate/br stream, an aborted upload).
    return failure(400, 'invalid_body', 'The request body could not be read');
  }
  if (error instanceof StripeGatewayError) {
    const { failure: stripe } = error;
    if (stripe.kind === 'unavailable' || stripe.kind === 'rate_limited') {
      return failure(503, 'payment_provider_unavailable', 'Stripe is unavailable; try again shortly', {}, RETRY);
    }
    // Stripe refusing the payment method itself (unknown or detached pm_…): the client's input, message redacted.
    if (stripe.kind === 'invalid_request' && stripe.param === 'payment_method') {
      return failure(422, 'invalid_payment_method', stripe.message, { param: 'payment_method_id' });
    }
    log?.error({ err: error, stripeRequestId: error.requestId }, 'Stripe refused a request');
    return failure(502, 'payment_provider_error', 'The payment provider refused the request');
  }
  if (isDependencyUnavailable(error)) {
    log?.warn({ err: error }, 'a dependency is unavailable; answered 503');
    return failure(503, 'service_unavailable', UNAVAILABLE_MESSAGE, {}, RETRY);
  }
  log?.error({ err: error }, 'unexpected error in a REST route');
  return failure(500, 'internal_error', 'Internal server error');
}

export function sendResult(res: Response, result: HttpResult): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    res.setHeader(name, value);
  }
  res.status(result.status).type('application/json').send(stringifyExact(result.body));
}
