import type Stripe from 'stripe';
import { toRemoteCreditNote } from './credit-note-snapshot';
import type { RemoteCreditNote } from './credit-note-snapshot';
import { creditNoteCreateKey } from './idempotency-keys';
import { METADATA } from './metadata';
import type { StripeCaller } from './stripe-caller';
import { toStripeAmount } from './stripe-values';

export interface CreateCreditNoteInput {
  /** Our credit note row id (idempotency key, metadata). */
  creditNoteId: string;
  /** Our credit note number and invoice id, in its metadata. */
  number: string;
  invoiceId: string;
  stripeInvoiceId: string;
  /** Each line gives back its amount (Stripe's `custom_line_item`, quantity 1); together they are the note's total. */
  lines: Array<{ description: string; amountMinor: bigint }>;
  /** Refunded to the card the invoice was paid with (a paid invoice); 0 on an open invoice. */
  refundMinor: bigint;
  memo: string | null;
}

/**
 * Creates a Stripe credit note, keyed by our row id. A retry after a crash first looks for the note an earlier
 * attempt made (its metadata names our row: Stripe forgets keys after 24 h), so a refund is never made twice.
 */
export async function createCreditNote(
  caller: StripeCaller,
  input: CreateCreditNoteInput,
  resume: boolean,
): Promise<RemoteCreditNote> {
  if (resume) {
    const found = await findCreditNoteByOurId(caller, input.stripeInvoiceId, input.creditNoteId);
    if (found) {
      return found;
    }
  }
  const params: Stripe.CreditNoteCreateParams = {
    invoice: input.stripeInvoiceId,
    lines: input.lines.map((l) => ({
      type: 'custom_line_item',
      description: l.description,
      quantity: 1,
      unit_amount: toStripeAmount(l.amountMinor),
    })),
    ...(input.refundMinor > 0n ? { refund_amount: toStripeAmount(input.refundMinor) } : {}),
    ...(input.memo ? { memo: input.memo } : {}),
    metadata: {
      [METADATA.creditNoteId]: input.creditNoteId,
      [METADATA.invoiceId]: input.invoiceId,
      [METADATA.creditNoteNumber]: input.number,
    },
  };
  const note = await caller.call((stripe) =>
    stripe.creditNotes.create(params, { idempotencyKey: creditNoteCreateKey(input.creditNoteId) }),
  );
  return toRemoteCreditNote(note);
}

/** Every credit note of a Stripe invoice, newest first (all pages). */
export async function listCreditNotes(caller: StripeCaller, stripeInvoiceId: string): Promise<RemoteCreditNote[]> {
  const notes: RemoteCreditNote[] = [];
  const pages = caller.listAll((stripe, after) =>
    stripe.creditNotes.list({ invoice: stripeInvoiceId, limit: 100, ...(after ? { starting_after: after } : {}) }),
  );
  for await (const note of pages) {
    notes.push(toRemoteCreditNote(note));
  }
  return notes;
}

async function findCreditNoteByOurId(
  caller: StripeCaller,
  stripeInvoiceId: string,
  creditNoteId: string,
): Promise<RemoteCreditNote | null> {
  const notes = await listCreditNotes(caller, stripeInvoiceId);
  return notes.find((n) => n.ourId === creditNoteId) ?? null;
}
