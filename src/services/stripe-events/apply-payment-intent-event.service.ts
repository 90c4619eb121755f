import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import type { RemotePaymentIntent } from '../../stripe';
import { canTransition, recordInvoiceEvent, transitionInvoice } from '../invoicing/invoice-status';
import { paymentErrorReason, recordPaymentError } from '../payments/payment-error';
import type { ApplyInvoiceEventResult, StripeEventRef } from './apply-stripe-invoice-event.service';

/** Stripe's code for a failed 3-D Secure challenge, the failure that follows `requires_action`. */
const AUTHENTICATION_FAILED = 'payment_intent_authentication_failure';

/**
 * `payment_intent.payment_failed`: the decline reason of an invoice's payment (`last_payment_error`), which
 * `invoice.payment_failed` does not carry. The invoice is found by its PaymentIntent id (stored at finalization and
 * from a 402). The reason is recorded unless the invoice is settled (PAID, VOID) or a newer error is recorded; the
 * status moves to PAYMENT_FAILED with that reason when the transition table allows it and no newer event was
 * applied, as for `invoice.payment_failed` (whichever of the two comes first moves it). When the invoice's event came
 * first, the reason is recorded as a history entry of its own (PAYMENT_FAILED to itself), pushed to subscribers.
 */
export async function applyPaymentIntentFailed(
  em: EntityManager,
  input: { event: StripeEventRef; intent: RemotePaymentIntent },
): Promise<ApplyInvoiceEventResult> {
  const { event, intent } = input;
  const invoice = await em.findOne(
    Invoice,
    { stripePaymentIntentId: intent.id },
    { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
  );
  if (!invoice) {
    return { outcome: 'ignored', detail: 'no invoice of ours has this PaymentIntent', statusChanged: false };
  }
  const error = intent.lastPaymentError;
  if (!error) {
    return { outcome: 'ignored', detail: 'the PaymentIntent carries no payment error', statusChanged: false };
  }
  if (invoice.status === InvoiceStatus.PAID || invoice.status === InvoiceStatus.VOID) {
    return { outcome: 'processed', detail: `already ${invoice.status}; error not recorded`, statusChanged: false };
  }
  // The PaymentIntent's event names no attempt (Stripe reuses one PaymentIntent for an invoice's attempts). While the
  // customer must authenticate, the only failure that can follow is that authentication's; a decline is an earlier
  // attempt's, delivered late. `invoice.payment_failed` (which counts attempts) settles any other doubt.
  if (invoice.status === InvoiceStatus.REQUIRES_ACTION && error.code !== AUTHENTICATION_FAILED) {
    return {
      outcome: 'processed',
      detail: `a decline of an earlier attempt (${error.code}) while 3-D Secure is pending; not applied`,
      statusChanged: false,
    };
  }
  const recorded = recordPaymentError(invoice, error, event.created);
  const older = !!invoice.lastStripeEventAt && event.created.getTime() < invoice.lastStripeEventAt.getTime();
  let statusChanged = false;
  if (!older && canTransition(invoice.status, InvoiceStatus.PAYMENT_FAILED)) {
    statusChanged = await transitionInvoice(em, invoice, InvoiceStatus.PAYMENT_FAILED, {
      source: StatusChangeSource.WEBHOOK,
      ref: event.id,
      reason: paymentErrorReason(error),
    });
  }
  if (recorded && !statusChanged && invoice.status === InvoiceStatus.PAYMENT_FAILED) {
    // `invoice.payment_failed` came first and moved it without a reason: the reason is a history entry of its own,
    // pushed to subscribers like a change, so a dashboard shows why without a reload.
    await recordInvoiceEvent(em, invoice, {
      source: StatusChangeSource.WEBHOOK,
      ref: event.id,
      reason: paymentErrorReason(error),
    });
  }
  if (!older) {
    invoice.lastStripeEventAt = event.created;
    invoice.lastStripeEventId = event.id;
  }
  await em.flush();
  const detail = `${recorded ? 'error recorded' : 'a newer error is recorded'}${statusChanged ? '; moved to PAYMENT_FAILED' : ''}`;
  return { outcome: 'processed', detail, invoiceId: invoice.id, statusChanged };
}
