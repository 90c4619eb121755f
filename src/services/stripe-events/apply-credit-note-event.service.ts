import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { CreditNote, Invoice } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import type { RemoteCharge, RemoteCreditNote } from '../../stripe';
import {
  announceCreditNote,
  markIssued,
  markVoided,
  minBig,
  recordForeignNote,
  refundableMinor,
} from '../credit-notes/credit-note-ledger';
import { recordInvoiceEvent } from '../invoicing/invoice-status';
import { formatMoney } from '../shared/money';
import type { ApplyInvoiceEventResult, StripeEventRef } from './apply-stripe-invoice-event.service';

/**
 * `credit_note.created` / `credit_note.voided` / `charge.refunded`: credit notes and refunds reach the invoice
 * whoever made them. Ours (metadata names our note) are marked ISSUED if the use case has not done it yet; one made
 * in the Stripe Dashboard is recorded with a number of ours. A refund raises the invoice's refunded amount to what
 * Stripe says the charge has refunded (never lowers it: our reservations of refunds under way count already).
 */

export async function applyCreditNoteEvent(
  em: EntityManager,
  input: { event: StripeEventRef; creditNote: RemoteCreditNote },
): Promise<ApplyInvoiceEventResult> {
  const { event, creditNote: remote } = input;
  const invoice = await em.findOne(
    Invoice,
    { stripeInvoiceId: remote.stripeInvoiceId },
    { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
  );
  if (!invoice) {
    return { outcome: 'ignored', detail: 'no invoice of ours has this credit note', statusChanged: false };
  }
  // Recorded at the time it is applied, as status changes from webhooks are (the history is ordered by that time).
  const cause = { source: StatusChangeSource.WEBHOOK, ref: event.id };
  const note =
    (await em.findOne(CreditNote, { stripeCreditNoteId: remote.id })) ??
    (remote.ourId ? await em.findOne(CreditNote, { id: remote.ourId, invoice }) : null);
  let detail: string;
  if (event.type === 'credit_note.voided' || remote.status === 'void') {
    if (!note) {
      return { outcome: 'processed', detail: 'a voided note we never recorded', statusChanged: false };
    }
    await markIssued(em, invoice, note, remote, cause);
    await markVoided(em, invoice, note, cause);
    detail = `credit note ${note.number} voided`;
  } else if (note) {
    await markIssued(em, invoice, note, remote, cause);
    detail = `credit note ${note.number} issued`;
  } else {
    const made = await recordForeignNote(em, invoice, remote, cause);
    detail = `credit note made in Stripe recorded as ${made.number}`;
  }
  await em.flush();
  return { outcome: 'processed', detail, invoiceId: invoice.id, statusChanged: false };
}

export async function applyChargeRefunded(
  em: EntityManager,
  input: { event: StripeEventRef; charge: RemoteCharge },
): Promise<ApplyInvoiceEventResult> {
  const { event, charge } = input;
  const invoice = charge.paymentIntentId
    ? await em.findOne(
        Invoice,
        { stripePaymentIntentId: charge.paymentIntentId },
        { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
      )
    : null;
  if (!invoice) {
    return { outcome: 'ignored', detail: 'no invoice of ours was paid by this charge', statusChanged: false };
  }
  if (invoice.status !== InvoiceStatus.PAID) {
    return { outcome: 'ignored', detail: `the invoice is ${invoice.status}, not paid`, statusChanged: false };
  }
  if (charge.amountRefundedMinor <= invoice.amountRefundedMinor) {
    return { outcome: 'processed', detail: 'refund already counted', invoiceId: invoice.id, statusChanged: false };
  }
  // Never above what was paid (the CHECK constraint would refuse it and the event would be retried forever).
  const added = minBig(charge.amountRefundedMinor - invoice.amountRefundedMinor, refundableMinor(invoice));
  invoice.amountRefundedMinor += added;
  await recordInvoiceEvent(em, invoice, {
    source: StatusChangeSource.WEBHOOK,
    ref: event.id,
    reason: `Refunded ${formatMoney(added, invoice.currency)} in Stripe`,
  });
  await announceCreditNote(em, 'invoice.refunded', invoice, null, {
    source: StatusChangeSource.WEBHOOK,
    ref: event.id,
  });
  await em.flush();
  return { outcome: 'processed', detail: 'refund made in Stripe applied', invoiceId: invoice.id, statusChanged: false };
}
