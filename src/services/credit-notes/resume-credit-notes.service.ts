import { CreditNote } from '../../entities';
import { CreditNoteStatus, StatusChangeSource } from '../../entities/enums';
import type { InvoiceDeps } from '../invoicing/invoice-deps';
import { settleCreditNote } from './issue-credit-note';

export interface ResumedCreditNote {
  creditNoteId: string;
  invoiceId: string;
  /** issued: Stripe made it (now or before); released: Stripe refused it; pending: Stripe still unreachable. */
  outcome: 'issued' | 'released' | 'pending';
}

/**
 * Credit notes left PENDING because Stripe could not be reached when they were asked (or their instance died): each
 * holds its amount on its invoice (refunded or credited) until it is settled. Resumed as the caller's retry would:
 * Stripe is asked again with the note's own idempotency key, after looking for a note an earlier attempt made (its
 * metadata names ours), then ISSUED; a clear refusal (the invoice was voided meanwhile, its payment refunded in the
 * Dashboard…) marks it FAILED and gives the amount back. Only notes PENDING since before `before` (one resume interval
 * ago on the caller's clock), so a request still talking to Stripe is left alone; either way is safe (see
 * `settleCreditNote`).
 */
export async function resumePendingCreditNotes(
  deps: InvoiceDeps,
  input: { before: Date; limit: number },
): Promise<ResumedCreditNote[]> {
  const notes = await deps.em
    .fork()
    .find(
      CreditNote,
      { status: CreditNoteStatus.PENDING, createdAt: { $lte: input.before } },
      { populate: ['invoice'], orderBy: { createdAt: 'asc', id: 'asc' }, limit: input.limit },
    );
  const resumed: ResumedCreditNote[] = [];
  for (const note of notes) {
    const outcome = await settleCreditNote(deps, note.invoice, note, true, {
      source: StatusChangeSource.SYSTEM,
      ref: `credit_note:${note.id}:resume`,
      at: deps.now,
    });
    resumed.push({
      creditNoteId: note.id,
      invoiceId: note.invoice.id,
      outcome: outcome.kind === 'issued' ? 'issued' : outcome.kind === 'stripe_refused' ? 'released' : 'pending',
    });
  }
  return resumed;
}
