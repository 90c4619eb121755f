import { LockMode } from '@mikro-orm/core';
import { CreditNote, Invoice } from '../../entities';
import type { CreditNoteLineData } from '../../entities';
import { CreditNoteKind, CreditNoteStatus, StatusChangeSource } from '../../entities/enums';
import type { InvoiceStatus } from '../../entities/enums';
import type { StatusCause } from '../invoicing/invoice-status';
import { StripeGatewayError, failedWith } from '../../stripe';
import type { RemoteCreditNote } from '../../stripe';
import type { Caller } from '../customers/caller';
import type { InvoiceDeps } from '../invoicing/invoice-deps';
import { BadInputError } from '../shared/errors';
import { markIssued, nextCreditNoteNumber, reserve } from './credit-note-ledger';

/** How issuing a credit note (a refund, or a credit on an open invoice) ends. */
export type CreditNoteOutcome =
  | { kind: 'issued'; invoice: Invoice; creditNote: CreditNote }
  | { kind: 'invalid_state'; status: InvoiceStatus; message: string }
  /** More than can be refunded or credited; `availableMinor` is what can. */
  | { kind: 'invalid_amount'; message: string; availableMinor: bigint; currency: string }
  /** Stripe could not be reached: the note stays reserved and PENDING; the same call (same key) resumes it. */
  | { kind: 'stripe_unavailable'; invoice: Invoice; message: string }
  /** Stripe refused it: nothing was refunded or credited, the reservation is released. */
  | { kind: 'stripe_refused'; invoice: Invoice; message: string };

/** What a plan refuses with, before anything is reserved. */
export type CreditNoteRefusal = Extract<CreditNoteOutcome, { kind: 'invalid_state' | 'invalid_amount' }>;

/** What a use case asks: checked under the invoice's lock by `plan`, which refuses or gives the lines. */
export interface CreditNoteRequest {
  invoiceId: string;
  kind: CreditNoteKind;
  reason: string | null;
  /** The caller's idempotency key: the same key on the same invoice answers (or resumes) the same note. */
  requestKey: string;
  /** The amount asked for, when the request names one: a key reused for another amount is refused, as Stripe does. */
  requestedMinor: bigint | null;
  plan: (
    invoice: Invoice,
    notes: CreditNote[],
  ) => { lines: CreditNoteLineData[]; amountMinor: bigint } | CreditNoteRefusal;
}

/**
 * Reserve → Stripe → settle. Under the invoice's row lock the amount is checked against what is left and reserved on
 * the invoice (refunded or credited) with a PENDING note, so two concurrent refunds cannot both pass (a CHECK
 * constraint on `invoices` is the last guard); then Stripe makes the credit note (and its refund), keyed by our note's
 * id; then, locked again, the note is ISSUED and the history gets its entry (pushed to subscribers).
 */
export async function issueCreditNote(
  deps: InvoiceDeps,
  caller: Caller,
  request: CreditNoteRequest,
): Promise<CreditNoteOutcome> {
  const cause = { source: StatusChangeSource.API, ref: caller.userId, at: deps.now ?? new Date() };
  const claim = await deps.em.fork().transactional(async (tem) => {
    const invoice = await tem.findOneOrFail(Invoice, request.invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer'],
    });
    const notes = await tem.find(CreditNote, { invoice }, { orderBy: { createdAt: 'asc' } });
    const earlier = notes.find((n) => n.requestKey === request.requestKey);
    if (
      earlier &&
      (earlier.kind !== request.kind ||
        (request.requestedMinor !== null && earlier.amountMinor !== request.requestedMinor))
    ) {
      throw new BadInputError(
        'idempotencyKey was already used on this invoice for a different request; use a new key for a new one',
        'idempotencyKey',
      );
    }
    if (earlier) {
      return { kind: 'existing' as const, invoice, note: earlier };
    }
    if (!invoice.stripeInvoiceId) {
      return { kind: 'invalid_state' as const, status: invoice.status, message: 'The invoice is not in Stripe yet' };
    }
    const planned = request.plan(invoice, notes);
    if ('kind' in planned) {
      return planned;
    }
    reserve(invoice, request.kind, planned.amountMinor);
    const note = tem.create(CreditNote, {
      number: await nextCreditNoteNumber(tem, deps.config.billing.invoicePrefix, cause.at),
      invoice,
      kind: request.kind,
      amountMinor: planned.amountMinor,
      refundedMinor: 0n,
      currency: invoice.currency,
      reason: request.reason,
      lines: planned.lines,
      requestKey: request.requestKey,
      source: cause.source,
      sourceRef: caller.userId,
      // The caller's clock: the resumer compares it with its own to leave a request in flight alone.
      createdAt: cause.at,
    });
    await tem.flush();
    return { kind: 'reserved' as const, invoice, note };
  });
  if (claim.kind !== 'reserved' && claim.kind !== 'existing') {
    return claim;
  }
  const { invoice, note } = claim;
  if (note.status === CreditNoteStatus.FAILED) {
    return { kind: 'stripe_refused', invoice, message: 'Stripe refused this credit note earlier' };
  }
  if (note.status !== CreditNoteStatus.PENDING) {
    return { kind: 'issued', invoice, creditNote: note };
  }
  return settleCreditNote(deps, invoice, note, claim.kind === 'existing', cause);
}

/**
 * Stripe, then settle: makes the PENDING note in Stripe (keyed by its id; `resume`: first looks for what an earlier
 * attempt made) and marks it ISSUED, or FAILED with its reservation released when Stripe refuses it. Stripe
 * unreachable: it stays PENDING and reserved, for the caller's retry or the resumer (`resume-credit-notes.service.ts`).
 * Every outcome may be reached twice (a retry racing the resumer): Stripe answers the same key the same way, and
 * `markIssued` / the release change a PENDING note only.
 */
export async function settleCreditNote(
  deps: InvoiceDeps,
  invoice: Invoice,
  note: CreditNote,
  resume: boolean,
  cause: StatusCause,
): Promise<CreditNoteOutcome> {
  let remote: RemoteCreditNote;
  try {
    remote = await deps.gateway.createCreditNote(
      {
        creditNoteId: note.id,
        number: note.number,
        invoiceId: invoice.id,
        stripeInvoiceId: invoice.stripeInvoiceId as string,
        lines: note.lines.map((l) => ({ description: l.description, amountMinor: BigInt(l.amountMinor) })),
        refundMinor: note.kind === CreditNoteKind.REFUND ? note.amountMinor : 0n,
        memo: note.reason ?? null,
      },
      resume,
    );
  } catch (error) {
    // Not an answer about this note (Stripe down, busy, or our key refused): it stays PENDING, to be resumed.
    if (failedWith(error, 'unavailable', 'rate_limited', 'authentication')) {
      return { kind: 'stripe_unavailable', invoice, message: 'Stripe is unavailable; try again with the same key' };
    }
    if (!(error instanceof StripeGatewayError)) {
      throw error;
    }
    return release(deps, note.id, error.message);
  }
  return deps.em.fork().transactional(async (tem) => {
    const locked = await tem.findOneOrFail(Invoice, invoice.id, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer'],
    });
    const row = await tem.findOneOrFail(CreditNote, note.id);
    await markIssued(tem, locked, row, remote, cause);
    await tem.flush();
    return { kind: 'issued' as const, invoice: locked, creditNote: row };
  });
}

/** Stripe refused: FAILED, and the amount it held on the invoice given back. */
async function release(deps: InvoiceDeps, noteId: string, message: string): Promise<CreditNoteOutcome> {
  return deps.em.fork().transactional(async (tem) => {
    const note = await tem.findOneOrFail(CreditNote, noteId, { populate: ['invoice'] });
    const invoice = await tem.findOneOrFail(Invoice, note.invoice.id, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer'],
    });
    if (note.status === CreditNoteStatus.PENDING) {
      note.status = CreditNoteStatus.FAILED;
      reserve(invoice, note.kind, -note.amountMinor);
      await tem.flush();
    }
    return { kind: 'stripe_refused' as const, invoice, message: `Stripe refused the credit note: ${message}` };
  });
}
