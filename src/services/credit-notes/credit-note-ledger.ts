import type { EntityManager } from '@mikro-orm/postgresql';
import { CreditNote } from '../../entities';
import type { CreditNoteLineData, Invoice } from '../../entities';
import { CreditNoteKind, CreditNoteStatus } from '../../entities/enums';
import type { RemoteCreditNote } from '../../stripe';
import { formatMoney } from '../shared/money';
import { nextInvoiceSequence } from '../invoicing/invoice-repository';
import { recordInvoiceEvent } from '../invoicing/invoice-status';
import { recordOutgoingEvent } from '../outgoing-webhooks/outbox';
import type { StatusCause } from '../invoicing/invoice-status';

/**
 * The invoice's side of credit notes, shared by the use cases, the webhook and reconciliation: numbers, the amounts
 * a note reserves on its invoice (refunded, or credited before payment) and the history entry when one is issued or
 * voided. Every function runs inside the caller's transaction with the invoice row locked.
 */

/** `PREFIX-CN-YYYY-MM-NNNNNN`: like invoice numbers, a sequence per prefix and month (the month it is issued). */
export function formatCreditNoteNumber(prefix: string, month: string, sequence: number): string {
  return `${prefix}-CN-${month}-${String(sequence).padStart(6, '0')}`;
}

export async function nextCreditNoteNumber(tem: EntityManager, prefix: string, at: Date): Promise<string> {
  const month = at.toISOString().slice(0, 7);
  return formatCreditNoteNumber(prefix, month, await nextInvoiceSequence(tem, `${prefix}-CN`, month));
}

/** What can still be refunded (a paid invoice) or credited (an unpaid one). */
export function refundableMinor(invoice: Invoice): bigint {
  return invoice.amountPaidMinor - invoice.amountRefundedMinor;
}

export function creditableMinor(invoice: Invoice): bigint {
  return invoice.totalMinor - invoice.amountCreditedMinor - invoice.amountPaidMinor;
}

/** Moves the invoice's refunded or credited amount by `delta` (a reservation, its release, a Dashboard note). */
export function reserve(invoice: Invoice, kind: CreditNoteKind, delta: bigint): void {
  if (kind === CreditNoteKind.REFUND) {
    invoice.amountRefundedMinor += delta;
  } else {
    invoice.amountCreditedMinor += delta;
  }
}

function describe(note: CreditNote, verb: string): string {
  const amount = formatMoney(note.amountMinor, note.currency);
  return note.kind === CreditNoteKind.REFUND
    ? `${verb === 'issued' ? 'Refunded' : 'Refund note voided:'} ${amount} (${note.number})`
    : `${verb === 'issued' ? 'Credited' : 'Credit note voided:'} ${amount} off the amount due (${note.number})`;
}

/**
 * The note exists in Stripe: ISSUED with Stripe's ids, and a history entry (pushed to subscribers). A refund note
 * announces `invoice.refunded` unless `refundAnnounced` says its refund was announced already (see `recordForeignNote`).
 */
export async function markIssued(
  tem: EntityManager,
  invoice: Invoice,
  note: CreditNote,
  remote: RemoteCreditNote,
  cause: StatusCause,
  refundAnnounced = false,
): Promise<void> {
  if (note.status !== CreditNoteStatus.PENDING) {
    return;
  }
  note.status = CreditNoteStatus.ISSUED;
  note.stripeCreditNoteId = remote.id;
  note.stripeRefundId = remote.refundId;
  note.refundedMinor = remote.refundedMinor;
  await recordInvoiceEvent(tem, invoice, { ...cause, reason: cause.reason ?? describe(note, 'issued') });
  await announceCreditNote(tem, 'credit_note.created', invoice, note, cause);
  if (note.kind === CreditNoteKind.REFUND && !refundAnnounced) {
    await announceCreditNote(tem, 'invoice.refunded', invoice, note, cause);
  }
}

/**
 * The platform's event for a note (outgoing webhooks), in the note's transaction and ordered with its invoice's status
 * events. `invoice.refunded` carries the note that refunded (null for a refund made in Stripe without one).
 */
export async function announceCreditNote(
  tem: EntityManager,
  type: 'credit_note.created' | 'credit_note.voided' | 'invoice.refunded',
  invoice: Invoice,
  note: CreditNote | null,
  cause: StatusCause,
): Promise<void> {
  await recordOutgoingEvent(tem, {
    type,
    orderingKey: invoice.id,
    data: {
      invoice: {
        id: invoice.id,
        number: invoice.number,
        status: invoice.status,
        currency: invoice.currency,
        totalMinor: Number(invoice.totalMinor),
        amountPaidMinor: Number(invoice.amountPaidMinor),
        amountRefundedMinor: Number(invoice.amountRefundedMinor),
        amountCreditedMinor: Number(invoice.amountCreditedMinor),
      },
      creditNote: note && {
        id: note.id,
        number: note.number,
        kind: note.kind,
        status: note.status,
        amountMinor: Number(note.amountMinor),
        refundedMinor: Number(note.refundedMinor),
        currency: note.currency,
        reason: note.reason ?? null,
      },
    },
    at: cause.at ?? new Date(),
  });
}

/** Voided in Stripe: VOID, what it reserved given back, a history entry. */
export async function markVoided(tem: EntityManager, invoice: Invoice, note: CreditNote, cause: StatusCause) {
  if (note.status === CreditNoteStatus.VOID || note.status === CreditNoteStatus.FAILED) {
    return;
  }
  note.status = CreditNoteStatus.VOID;
  // A voided refund note keeps its refund (Stripe refuses to void one); a voided credit asks for the amount again.
  if (note.kind === CreditNoteKind.CREDIT) {
    reserve(invoice, note.kind, -note.amountMinor);
  }
  await recordInvoiceEvent(tem, invoice, { ...cause, reason: describe(note, 'voided') });
  await announceCreditNote(tem, 'credit_note.voided', invoice, note, cause);
}

/** A note made in the Stripe Dashboard (no row of ours): recorded, numbered like ours, its credit applied within limits. */
export async function recordForeignNote(
  tem: EntityManager,
  invoice: Invoice,
  remote: RemoteCreditNote,
  cause: StatusCause,
): Promise<CreditNote> {
  // The prefix of the invoice's own number (`PREFIX-YYYY-MM-NNNNNN-YYYYMMDD`).
  const prefix = invoice.number.replace(/-\d{4}-\d{2}-\d{6}-\d{8}$/, '');
  const kind = remote.type === 'pre_payment' ? CreditNoteKind.CREDIT : CreditNoteKind.REFUND;
  const lines: CreditNoteLineData[] = remote.lines.map((l) => ({
    description: l.description,
    amountMinor: l.amountMinor.toString(),
    invoiceLineId: null,
  }));
  const note = tem.create(CreditNote, {
    number: await nextCreditNoteNumber(tem, prefix, cause.at ?? new Date()),
    invoice,
    kind,
    status: CreditNoteStatus.PENDING,
    amountMinor: remote.amountMinor,
    currency: invoice.currency,
    reason: remote.reason,
    lines,
    stripeCreditNoteId: remote.id,
    source: cause.source,
    sourceRef: cause.ref ?? null,
  });
  const refundedBefore = invoice.amountRefundedMinor;
  if (kind === CreditNoteKind.CREDIT) {
    // A credit before payment lowers what is due.
    reserve(invoice, kind, minBig(remote.amountMinor, creditableMinor(invoice)));
  } else {
    // Its refund reaches the invoice through `charge.refunded` too, in either order (or not at all, when reconciliation
    // finds the note): both raise the refunded amount to a total, so it is never counted twice. Whichever raises it
    // announces `invoice.refunded`, so a refund is announced once whatever the order.
    const earlier = await tem.find(CreditNote, {
      id: { $ne: note.id },
      invoice,
      kind: CreditNoteKind.REFUND,
      status: { $in: [CreditNoteStatus.PENDING, CreditNoteStatus.ISSUED] },
    });
    const total = earlier.reduce(
      (sum, n) => sum + (n.status === CreditNoteStatus.PENDING ? n.amountMinor : n.refundedMinor),
      remote.refundedMinor,
    );
    invoice.amountRefundedMinor = maxBig(invoice.amountRefundedMinor, minBig(total, invoice.amountPaidMinor));
  }
  await markIssued(tem, invoice, note, remote, cause, invoice.amountRefundedMinor === refundedBefore);
  return note;
}

export const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
