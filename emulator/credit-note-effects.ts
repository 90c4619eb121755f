import type Stripe from 'stripe';
import type { Emulator, EventRequest } from './context';
import { invalidState } from './errors';
import { changed, emitInvoice, markPaid, stillChanged } from './lifecycle';
import { currentIntent } from './payment-intents';
import { createRefund } from './refunds';
import type { CreditNotePlan } from './credit-notes';
import { buildCreditNote } from './credit-notes';
import { recordBalance } from './customer-balance';

/** What issuing and voiding a credit note does to the invoice, the charge and the customer's balance. */

const AMOUNT_KEYS: Array<keyof Stripe.Invoice> = [
  'amount_due',
  'amount_remaining',
  'pre_payment_credit_notes_amount',
  'post_payment_credit_notes_amount',
];

function refundReason(reason: Stripe.CreditNote.Reason | null): Stripe.Refund.Reason {
  return reason === 'duplicate' || reason === 'fraudulent' ? reason : 'requested_by_customer';
}

/** A credit note's move of the customer's balance, as one `credit_note` transaction (the id the note names). */
function adjustBalance(emu: Emulator, cn: Stripe.CreditNote, delta: number, request: EventRequest, id?: string): void {
  const customer = emu.state.customers.get(cn.customer as string);
  if (customer && delta !== 0) {
    recordBalance(
      emu,
      customer,
      {
        type: 'credit_note',
        amount: delta,
        currency: cn.currency,
        invoice: cn.invoice as string,
        creditNote: cn.id,
        id,
      },
      request,
    );
  }
}

/** The invoice's open PaymentIntent asks for what is still due. */
function followIntent(emu: Emulator, inv: Stripe.Invoice): void {
  const pi = currentIntent(emu, inv);
  if (pi && pi.status !== 'succeeded' && pi.status !== 'canceled') {
    pi.amount = inv.amount_remaining;
  }
}

export function issueCreditNote(
  emu: Emulator,
  plan: CreditNotePlan,
  metadata: Record<string, string>,
  request: EventRequest,
): Stripe.CreditNote {
  const inv = plan.invoice;
  const cn = buildCreditNote(emu, plan, metadata);
  if (plan.charge && plan.refundAmount > 0) {
    const refund = createRefund(
      emu,
      plan.charge,
      { amount: plan.refundAmount, reason: refundReason(plan.reason), metadata: {} },
      request,
    );
    cn.refunds.unshift({
      amount_refunded: refund.amount,
      payment_record_refund: null,
      refund: refund.id,
      type: 'refund',
    });
  }
  emu.state.creditNotes.set(cn.id, cn);
  // A credit is a negative balance: Stripe applies it to the customer's next invoice.
  adjustBalance(
    emu,
    cn,
    -plan.creditAmount,
    request,
    typeof cn.customer_balance_transaction === 'string' ? cn.customer_balance_transaction : undefined,
  );
  emu.emit('credit_note.created', cn, request);
  const previous = changed(inv, AMOUNT_KEYS);
  if (plan.type === 'pre_payment') {
    inv.amount_due -= plan.total;
    inv.amount_remaining -= plan.total;
    inv.pre_payment_credit_notes_amount += plan.total;
    followIntent(emu, inv);
  } else {
    inv.post_payment_credit_notes_amount += plan.total;
  }
  emitInvoice(emu, 'invoice.updated', inv, request, stillChanged(inv, previous));
  if (plan.type === 'pre_payment' && inv.amount_remaining === 0) {
    // Nothing left to pay: Stripe marks the invoice paid.
    markPaid(emu, inv, request, null);
  }
  emu.changed();
  return cn;
}

export function voidCreditNote(emu: Emulator, cn: Stripe.CreditNote, request: EventRequest): void {
  if (cn.status === 'void') {
    throw invalidState('This credit note has already been voided.', 'credit_note_already_voided');
  }
  if (cn.refunds.length > 0) {
    throw invalidState('You cannot void a credit note that has refunds.', 'credit_note_not_voidable');
  }
  const inv = emu.state.invoices.get(cn.invoice as string);
  if (!inv) {
    throw invalidState('The invoice of this credit note no longer exists.');
  }
  if (cn.type === 'pre_payment' && inv.status !== 'open' && inv.status !== 'uncollectible') {
    throw invalidState(
      `You can only void a pre-payment credit note while its invoice is open; this invoice is ${inv.status}.`,
      'credit_note_not_voidable',
    );
  }
  const previousNote: Partial<Stripe.CreditNote> = { status: cn.status, voided_at: cn.voided_at };
  cn.status = 'void';
  cn.voided_at = emu.now();
  const credited = cn.amount - (cn.out_of_band_amount ?? 0);
  if (cn.type === 'post_payment' && cn.customer_balance_transaction) {
    adjustBalance(emu, cn, credited, request);
  }
  emu.emit('credit_note.voided', cn, request, previousNote);
  const previous = changed(inv, AMOUNT_KEYS);
  if (cn.type === 'pre_payment') {
    inv.amount_due += cn.amount;
    inv.amount_remaining += cn.amount;
    inv.pre_payment_credit_notes_amount -= cn.amount;
    followIntent(emu, inv);
  } else {
    inv.post_payment_credit_notes_amount -= cn.amount;
  }
  emitInvoice(emu, 'invoice.updated', inv, request, stillChanged(inv, previous));
  emu.changed();
}
