import type { Response } from 'express';
import type { Logger } from '../config/logger';
import type { Invoice } from '../entities';
import { InvoiceStatus } from '../entities/enums';
import type { CancelInvoiceOutcome } from '../services/cancel-invoice.service';
import type { CreateInvoiceOutcome } from '../services/create-invoice.service';
import { DomainError } from '../services/errors';
import type { InvoicePage } from '../services/get-invoices.service';
import { minorToDecimalString } from '../services/money';
import type { PayInvoiceOutcome } from '../services/pay-invoice.service';
import { UNSTORABLE_TEXT_MESSAGE } from '../schema/storable-text';
import { StripeGatewayError } from '../stripe';
import type { TotalMismatch } from '../stripe';
import { JsonDecimal, stringifyExact } from './exact-json';

/**
 * The one place where service outcomes and failures become the payment guide's HTTP responses: every status code,
 * error code and response shape of `/api/v1/billing/*` is decided here, so the routes stay thin and the OpenAPI
 * document (`openapi.ts`) has one thing to describe.
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
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** The guide's status vocabulary. An OPEN invoice Stripe has e-mailed is "sent", as the guide calls it. */
export function guideStatus(status: InvoiceStatus, sent = false): string {
  if (status === InvoiceStatus.OPEN) {
    return sent ? 'sent' : 'open';
  }
  return status.toLowerCase();
}

const amount = (minor: bigint, currency: string): JsonDecimal => new JsonDecimal(minorToDecimalString(minor, currency));

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

/** An invoice as the guide's responses show it; amounts are exact major-unit JSON numbers (see `JsonDecimal`). */
export function invoiceSummary(invoice: Invoice) {
  return {
    invoice_id: invoice.id,
    invoice_number: invoice.number,
    user_id: invoice.customer.externalUserId,
    month: invoice.period,
    status: guideStatus(invoice.status, Boolean(invoice.sentAt)),
    amount: amount(invoice.totalMinor, invoice.currency),
    amount_paid: amount(invoice.amountPaidMinor, invoice.currency),
    currency: invoice.currency,
    is_paid: invoice.status === InvoiceStatus.PAID,
    payment_url: invoice.paymentUrl ?? null,
    pdf_url: invoice.pdfUrl ?? null,
    due_date: iso(invoice.dueDate),
    created_at: iso(invoice.createdAt),
    paid_at: iso(invoice.paidAt),
  };
}

/** With its lines: only for invoices read through `getInvoice`/`listInvoices`, which load lines and metrics. */
export function invoiceDetail(invoice: Invoice) {
  return {
    ...invoiceSummary(invoice),
    void_reason: invoice.voidReason ?? null,
    lines: invoice.lines.getItems().map((line) => ({
      kind: line.kind,
      metric: line.metric?.code ?? null,
      description: line.description,
      // Quantities and unit prices are exact decimals with up to 12 places: strings, as in GraphQL.
      quantity: trimDecimal(line.quantity),
      unit_amount: line.unitAmount === null || line.unitAmount === undefined ? null : trimDecimal(line.unitAmount),
      amount: amount(line.amountMinor, invoice.currency),
    })),
  };
}

/** numeric(30,12) columns read back as "0.020000000000"; the trailing zeros are noise to a reader. */
function trimDecimal(value: string): string {
  return value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
}

const ok = (body: object): HttpResult => ({ status: 200, body: { success: true, ...body } });

function failure(status: number, code: string, message: string, extra: object = {}, headers?: Record<string, string>) {
  return { status, body: { success: false, error: { code, message, ...extra } }, ...(headers ? { headers } : {}) };
}

export function invoiceResult(invoice: Invoice): HttpResult {
  return ok(invoiceDetail(invoice));
}

export function listResult(page: InvoicePage): HttpResult {
  return ok({
    invoices: page.views.map((view) => invoiceDetail(view.invoice)),
    next_cursor: page.hasNextPage ? (page.cursors.at(-1) ?? null) : null,
    total_count: page.totalCount,
  });
}

// Stripe failed before the outcome was known; the service left the invoice resumable, so a retry is the remedy.
const RETRY = { 'Retry-After': '5' };

export function createResult(outcome: CreateInvoiceOutcome): HttpResult {
  switch (outcome.kind) {
    case 'invoice':
      return ok(invoiceSummary(outcome.invoice));
    case 'no_usage':
      return failure(422, 'no_billable_usage', `No billable usage in ${outcome.period}`, { month: outcome.period });
    case 'period_not_ended':
      return failure(422, 'period_not_ended', `Month ${outcome.period} has not ended yet`, { month: outcome.period });
    case 'cancelled':
      return failure(409, 'invalid_state', outcome.message, {
        invoice_id: outcome.invoice.id,
        status: guideStatus(outcome.invoice.status),
      });
    case 'total_mismatch':
      return totalMismatch(outcome);
    default:
      return failure(
        503,
        'payment_provider_unavailable',
        'Stripe is unavailable; send the same request again to resume this invoice',
        { invoice_id: outcome.invoice.id, status: guideStatus(outcome.invoice.status) },
        RETRY,
      );
  }
}

/**
 * 3-D Secure is answered 402 like a decline: the invoice is not paid and the client must act before it is, so a
 * client that checks only `success`/2xx can never mistake it for a payment. The body says what to do instead.
 */
export function payResult(outcome: PayInvoiceOutcome): HttpResult {
  switch (outcome.kind) {
    case 'paid':
      return ok(invoiceSummary(outcome.invoice));
    case 'declined':
      // One documented code for every decline; Stripe's finer reason (insufficient_funds, or a code of its own such
      // as expired_card or incorrect_cvc) goes in decline_code.
      return failure(402, 'card_declined', outcome.message, {
        decline_code: outcome.declineCode ?? (outcome.code && outcome.code !== 'card_declined' ? outcome.code : null),
        invoice_id: outcome.invoice.id,
        status: guideStatus(outcome.invoice.status),
      });
    case 'requires_action':
      return failure(402, 'requires_action', outcome.message, {
        client_secret: outcome.clientSecret,
        payment_url: outcome.invoice.paymentUrl ?? null,
        invoice_id: outcome.invoice.id,
        status: guideStatus(outcome.invoice.status),
      });
    case 'invalid_state':
      return failure(409, 'invalid_state', outcome.message, { status: guideStatus(outcome.status) });
    case 'total_mismatch':
      return totalMismatch(outcome);
    default:
      // The outcome is unknown (the invoice is "processing" until Stripe's webhook settles it) or Stripe was busy.
      // Retrying is safe either way: the service pays a PROCESSING invoice again and Stripe never charges twice.
      return failure(
        503,
        'payment_pending',
        outcome.message,
        { invoice_id: outcome.invoice.id, status: guideStatus(outcome.invoice.status) },
        RETRY,
      );
  }
}

/** Nothing was made payable or charged: 409, with both totals so an operator can see the difference. */
function totalMismatch(outcome: { invoice: Invoice; mismatch: TotalMismatch; message: string }): HttpResult {
  return failure(409, 'total_mismatch', outcome.message, {
    invoice_id: outcome.invoice.id,
    status: guideStatus(outcome.invoice.status),
    amount: amount(outcome.mismatch.ourTotalMinor, outcome.mismatch.ourCurrency),
    stripe_amount: amount(outcome.mismatch.stripeTotalMinor, outcome.mismatch.stripeCurrency.toUpperCase()),
  });
}

export function cancelResult(outcome: CancelInvoiceOutcome): HttpResult {
  switch (outcome.kind) {
    case 'voided':
      return ok({ ...invoiceSummary(outcome.invoice), void_reason: outcome.invoice.voidReason ?? null });
    case 'invalid_state':
      return failure(409, 'invalid_state', outcome.message, { status: guideStatus(outcome.status) });
    default:
      return failure(503, 'payment_provider_unavailable', outcome.message, { invoice_id: outcome.invoice.id }, RETRY);
  }
}

/** Services name inputs as GraphQL does; the guide's clients know the REST parameter and its status. */
const BAD_INPUT: Record<string, { status: number; code: string; param: string }> = {
  period: { status: 400, code: 'invalid_month', param: 'month' },
  first: { status: 400, code: 'invalid_limit', param: 'limit' },
  after: { status: 400, code: 'invalid_cursor', param: 'cursor' },
  paymentMethodId: { status: 422, code: 'invalid_payment_method', param: 'payment_method_id' },
  reason: { status: 422, code: 'validation_error', param: 'reason' },
};

const DOMAIN: Record<Exclude<DomainError['code'], 'BAD_USER_INPUT'>, { status: number; code: string }> = {
  UNAUTHENTICATED: { status: 401, code: 'unauthenticated' },
  FORBIDDEN: { status: 403, code: 'forbidden' },
  NOT_FOUND: { status: 404, code: 'not_found' },
};

/** body-parser's failures carry `type`; their messages may quote the body, so fixed texts are sent instead. */
const BODY_ERRORS: Record<string, { status: 400 | 413 | 415; code: string; message: string }> = {
  'entity.parse.failed': { status: 400, code: 'invalid_json', message: 'The request body is not valid JSON' },
  'entity.too.large': { status: 413, code: 'payload_too_large', message: 'The request body is too large' },
  'charset.unsupported': { status: 415, code: 'unsupported_media_type', message: 'Send the body as UTF-8 JSON' },
  'encoding.unsupported': { status: 415, code: 'unsupported_media_type', message: 'Unsupported content encoding' },
};

/** Every failure → `{ success: false, error: { code, message } }`; unexpected ones are logged, never described. */
export function errorResult(error: unknown, log?: Logger): HttpResult {
  if (error instanceof RequestError) {
    return failure(error.status, error.code, error.message);
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
    const headers = error.code === 'UNAUTHENTICATED' ? { 'WWW-Authenticate': 'Bearer' } : undefined;
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
    log?.error({ err: error, stripeRequestId: error.requestId }, 'Stripe refused a billing request');
    return failure(502, 'payment_provider_error', 'The payment provider refused the request');
  }
  log?.error({ err: error }, 'unexpected error in billing REST route');
  return failure(500, 'internal_error', 'Internal server error');
}

export function sendResult(res: Response, result: HttpResult): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    res.setHeader(name, value);
  }
  res.status(result.status).type('application/json').send(stringifyExact(result.body));
}
