import type { Invoice } from '../entities';
import { InvoiceStatus } from '../entities/enums';
import type { CancelInvoiceOutcome } from '../services/invoicing/cancel-invoice.service';
import type { CreateInvoiceOutcome } from '../services/invoicing/create-invoice.service';
import type { InvoicePage } from '../services/invoicing/get-invoices.service';
import type { CreditNoteOutcome } from '../services/credit-notes/issue-credit-note';
import type { CreditNoteRecord, InvoiceHeader, InvoiceRecord } from '../services/invoicing/invoice-read-model';
import { invoiceHeaderOf } from '../services/invoicing/invoice-read-model';
import { minorToDecimalString } from '../services/shared/money';
import type { PayInvoiceOutcome } from '../services/payments/pay-invoice.service';
import type { AttemptLimitBlock } from '../services/payments/payment-attempt-limits';
import type { LiftRecord } from '../services/payments/payment-limits-admin.service';
import type { TotalMismatch } from '../stripe';
import { JsonDecimal } from './exact-json';
import type { HttpResult } from './http-errors';
import { RETRY, failure, ok } from './http-errors';

/**
 * The REST presenter of the billing use cases: every outcome of `/api/v1/billing/*` becomes its status code and
 * body here (failures that are not outcomes go through `http-errors.ts`), so the routes stay thin and the OpenAPI
 * document (`openapi.ts`) has one thing to describe.
 */

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
export function invoiceSummary(invoice: InvoiceHeader) {
  return {
    invoice_id: invoice.id,
    invoice_number: invoice.number,
    user_id: invoice.userId,
    month: invoice.period,
    status: guideStatus(invoice.status, invoice.sentAt !== null),
    amount: amount(invoice.totalMinor, invoice.currency),
    amount_paid: amount(invoice.amountPaidMinor, invoice.currency),
    currency: invoice.currency,
    is_paid: invoice.status === InvoiceStatus.PAID,
    payment_url: invoice.paymentUrl,
    pdf_url: invoice.pdfUrl,
    due_date: iso(invoice.dueDate),
    created_at: iso(invoice.createdAt),
    paid_at: iso(invoice.paidAt),
  };
}

/** With its lines, as `getInvoice` and `listInvoices` read them. */
export function invoiceDetail(invoice: InvoiceRecord) {
  return {
    ...invoiceSummary(invoice),
    void_reason: invoice.voidReason,
    lines: invoice.lines.map((line) => ({
      id: line.id,
      kind: line.kind,
      metric: line.metric,
      description: line.description,
      // Quantities and unit prices are exact decimals with up to 12 places: strings, as in GraphQL.
      quantity: line.quantity,
      unit_amount: line.unitAmount,
      amount: amount(line.amountMinor, invoice.currency),
    })),
    amount_refunded: amount(invoice.amountRefundedMinor, invoice.currency),
    amount_credited: amount(invoice.amountCreditedMinor, invoice.currency),
    credit_notes: invoice.creditNotes.map((note) => creditNoteBody(note, invoice.currency)),
  };
}

function creditNoteBody(note: CreditNoteRecord, currency: string) {
  return {
    credit_note_id: note.id,
    number: note.number,
    kind: note.kind.toLowerCase(),
    status: note.status.toLowerCase(),
    amount: amount(note.amountMinor, currency),
    refunded: amount(note.refundedMinor, currency),
    reason: note.reason,
    lines: note.lines.map((l) => ({
      description: l.description,
      amount: amount(l.amountMinor, currency),
      invoice_line_id: l.invoiceLineId,
    })),
    created_at: iso(note.createdAt),
  };
}

/**
 * A refund or a credit note (`refundInvoice`, `createCreditNote`): `issued` carries the invoice as read after it,
 * which the route reads (`read`), since the outcome holds the entity.
 */
export function creditNoteResult(outcome: CreditNoteOutcome, read: InvoiceRecord | null): HttpResult {
  switch (outcome.kind) {
    case 'issued': {
      const note = read?.creditNotes.find((n) => n.id === outcome.creditNote.id);
      if (!read || !note) {
        throw new Error('the issued credit note was not read back');
      }
      return ok({ credit_note: creditNoteBody(note, read.currency), invoice: invoiceDetail(read) });
    }
    case 'invalid_state':
      return failure(409, 'invalid_state', outcome.message, { status: guideStatus(outcome.status) });
    case 'invalid_amount':
      return failure(422, 'amount_exceeded', outcome.message, {
        available: amount(outcome.availableMinor, outcome.currency),
      });
    case 'stripe_refused':
      return failure(502, 'credit_note_refused', outcome.message, { invoice_id: outcome.invoice.id });
    default:
      return failure(503, 'payment_provider_unavailable', outcome.message, { invoice_id: outcome.invoice.id }, RETRY);
  }
}

/** An invoice a use case answered with (an entity it changed): the summary, from the same read model. */
const summaryOf = (invoice: Invoice) => invoiceSummary(invoiceHeaderOf(invoice));

export function invoiceResult(invoice: InvoiceRecord): HttpResult {
  return ok(invoiceDetail(invoice));
}

export function listResult(page: InvoicePage): HttpResult {
  return ok({
    invoices: page.invoices.map(invoiceDetail),
    next_cursor: page.hasNextPage ? (page.cursors.at(-1) ?? null) : null,
    total_count: page.totalCount,
  });
}

export function createResult(outcome: CreateInvoiceOutcome): HttpResult {
  switch (outcome.kind) {
    case 'invoice':
      return ok(summaryOf(outcome.invoice));
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
    case 'stripe_refused':
      return failure(422, 'stripe_refused_amount', outcome.message, {
        invoice_id: outcome.invoice.id,
        status: guideStatus(outcome.invoice.status),
        stripe_code: outcome.stripeCode,
      });
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
      return ok(summaryOf(outcome.invoice));
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
    case 'attempts_exceeded': {
      // Card testing: 429 like any limit, Retry-After when it resets (an admin may lift it sooner).
      const { block } = outcome;
      return failure(
        429,
        'payment_attempts_exceeded',
        outcome.message,
        {
          scope: block.scope.toLowerCase(),
          failed_attempts: block.failedAttempts,
          limit: block.limit,
          window_seconds: block.windowSeconds,
          resets_at: block.resetsAt.toISOString(),
          ...(block.invoiceId ? { invoice_id: block.invoiceId } : {}),
        },
        { 'Retry-After': String(outcome.retryAfterSeconds) },
      );
    }
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
      return ok({ ...summaryOf(outcome.invoice), void_reason: outcome.invoice.voidReason ?? null });
    case 'invalid_state':
      return failure(409, 'invalid_state', outcome.message, { status: guideStatus(outcome.status) });
    default:
      return failure(503, 'payment_provider_unavailable', outcome.message, { invoice_id: outcome.invoice.id }, RETRY);
  }
}

/** A payment attempt limit reached, as `GET /api/v1/billing/payment-attempt-blocks` lists it. */
export function blockBody(block: AttemptLimitBlock) {
  return {
    scope: block.scope.toLowerCase(),
    user_id: block.userId,
    invoice_id: block.invoiceId,
    failed_attempts: block.failedAttempts,
    limit: block.limit,
    window_seconds: block.windowSeconds,
    resets_at: block.resetsAt.toISOString(),
  };
}

export function blocksResult(blocks: AttemptLimitBlock[]): HttpResult {
  return ok({ blocks: blocks.map(blockBody) });
}

export function liftResult(lift: LiftRecord): HttpResult {
  return ok({
    lift: {
      id: lift.id,
      scope: lift.scope.toLowerCase(),
      user_id: lift.userId,
      invoice_id: lift.invoiceId,
      lifted_by: lift.liftedBy,
      reason: lift.reason,
      lifted_at: lift.liftedAt.toISOString(),
    },
  });
}
