import { applyCreditNoteEvent } from '../../services/stripe-events/apply-credit-note-event.service';
import type { WebhookHandler } from '../handler.types';

/** `credit_note.created` / `credit_note.voided`: a credit note of ours settled, or one made in the Dashboard recorded. */
export const creditNoteHandler: WebhookHandler = async ({ em, event }) => {
  if (event.object.kind !== 'credit_note') {
    return { outcome: 'ignored', detail: 'the event carries no credit note' };
  }
  const result = await applyCreditNoteEvent(em, { event, creditNote: event.object.creditNote });
  return { outcome: result.outcome, detail: result.detail };
};
