import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { CreditNote, Invoice } from '../../entities';
import { CreditNoteStatus, StatusChangeSource } from '../../entities/enums';
import type { RemoteInvoice, StripeGateway } from '../../stripe';
import { markIssued, markVoided, recordForeignNote } from '../credit-notes/credit-note-ledger';

/**
 * Credit notes whose webhook we missed: every Stripe note of the invoice is matched to ours (by Stripe id or our
 * metadata) and applied through the same ledger as the webhook (`credit-note-ledger.ts`): a PENDING note of ours that
 * Stripe made is ISSUED, a voided one VOID, one made in the Dashboard recorded. Asked of Stripe only when its invoice
 * shows credit notes or one of ours is PENDING. Returns what changed (`number: from → to`).
 */
export async function reconcileCreditNotes(
  em: EntityManager,
  gateway: Pick<StripeGateway, 'listCreditNotes'>,
  invoice: Invoice,
  remote: RemoteInvoice,
  dryRun: boolean,
): Promise<Array<{ number: string; from: string; to: string }>> {
  const pending = await em.fork().count(CreditNote, { invoice: invoice.id, status: CreditNoteStatus.PENDING });
  if ((remote.creditNotesMinor ?? 0n) === 0n && pending === 0) {
    return [];
  }
  const notes = await gateway.listCreditNotes(remote.id);
  return em.fork().transactional(async (tem) => {
    const locked = await tem.findOneOrFail(Invoice, invoice.id, { lockMode: LockMode.PESSIMISTIC_WRITE });
    const ours = await tem.find(CreditNote, { invoice: locked });
    const cause = { source: StatusChangeSource.RECONCILIATION, ref: 'reconciliation' };
    const changes: Array<{ number: string; from: string; to: string }> = [];
    // Oldest first, as they were made.
    for (const remoteNote of [...notes].reverse()) {
      const note = ours.find((n) => n.stripeCreditNoteId === remoteNote.id || n.id === remoteNote.ourId);
      const wanted = remoteNote.status === 'void' ? CreditNoteStatus.VOID : CreditNoteStatus.ISSUED;
      if (note && note.status === wanted) {
        continue;
      }
      changes.push({ number: note?.number ?? remoteNote.number, from: note?.status ?? 'missing', to: wanted });
      if (dryRun) {
        continue;
      }
      const row = note ?? (await recordForeignNote(tem, locked, remoteNote, cause));
      await markIssued(tem, locked, row, remoteNote, cause);
      if (wanted === CreditNoteStatus.VOID) {
        await markVoided(tem, locked, row, cause);
      }
    }
    await tem.flush();
    return changes;
  });
}
