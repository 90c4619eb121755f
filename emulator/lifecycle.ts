import type Stripe from 'stripe';
import type { Emulator, EventRequest } from './context';
import { isSupportedCurrency, maximumChargeMinor } from '../src/config/currencies';
import { invalidState } from './errors';
import { amountTooLarge } from './limits';
import { applyBalanceAtFinalization } from './customer-balance';
import { createDefaultPayment, defaultInvoicePayment, internalsOf, invoiceView } from './invoice-model';
import { cancelIntent, currentIntent, openInvoiceIntent } from './payment-intents';
import { snapshot } from './util';

/** Invoice state changes shared by the API, the hosted page and the test clock. */

/**
 * Events about the invoice as it is now, in the order given, sharing one JSON text of it (`Emulator.emitJson`);
 * `previous` is the `previous_attributes` of its `invoice.updated` (Stripe sends them with `*.updated` events only).
 */
export function emitInvoice(
  emu: Emulator,
  types: Stripe.Event.Type | Stripe.Event.Type[],
  inv: Stripe.Invoice,
  request: EventRequest,
  previous?: Partial<Stripe.Invoice>,
): void {
  const json = JSON.stringify(invoiceView(inv));
  for (const type of Array.isArray(types) ? types : [types]) {
    emu.emitJson(type, json, request, type === 'invoice.updated' ? previous : undefined);
  }
}

export function changed<K extends keyof Stripe.Invoice>(inv: Stripe.Invoice, keys: K[]): Partial<Stripe.Invoice> {
  const previous: Partial<Stripe.Invoice> = {};
  for (const k of keys) {
    previous[k] = snapshot(inv[k] ?? null) as Stripe.Invoice[K];
  }
  return previous;
}

/** `previous` less the keys whose value did not change: the `previous_attributes` of an `invoice.updated`. */
export function stillChanged(inv: Stripe.Invoice, previous: Partial<Stripe.Invoice>): Partial<Stripe.Invoice> {
  const keys = Object.keys(previous) as Array<keyof Stripe.Invoice>;
  const now = changed(inv, keys);
  return Object.fromEntries(
    keys.filter((k) => JSON.stringify(now[k]) !== JSON.stringify(previous[k])).map((k) => [k, previous[k]]),
  ) as Partial<Stripe.Invoice>;
}

/** Keys a status change moves. */
const STATUS_KEYS: Array<keyof Stripe.Invoice> = [
  'amount_paid',
  'amount_remaining',
  'auto_advance',
  'next_payment_attempt',
  'status',
  'status_transitions',
];

/** draft → open: number, due date, hosted URLs, the default payment; a zero invoice is paid at once. */
export function finalize(emu: Emulator, inv: Stripe.Invoice, request: EventRequest, autoAdvance?: boolean): void {
  if (inv.status !== 'draft') {
    throw invalidState(
      "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
      undefined,
      'invoice',
    );
  }
  if (isSupportedCurrency(inv.currency) && BigInt(inv.amount_due) > maximumChargeMinor(inv.currency)) {
    // More than one payment can carry: Stripe does not make such an invoice payable.
    throw amountTooLarge(inv.currency);
  }
  const now = emu.now();
  const customer = typeof inv.customer === 'string' ? emu.state.customers.get(inv.customer) : undefined;
  if (!inv.number) {
    const seq = customer?.next_invoice_sequence ?? 1;
    inv.number = `${customer?.invoice_prefix ?? 'INV'}-${String(seq).padStart(4, '0')}`;
    if (customer) {
      customer.next_invoice_sequence = seq + 1;
    }
  }
  const internals = internalsOf(emu, inv.id);
  const base = emu.config.publicBaseUrl;
  inv.status = 'open';
  inv.status_transitions.finalized_at = now;
  inv.effective_at = now;
  inv.automatically_finalizes_at = null;
  inv.hosted_invoice_url = `${base}/i/${internals.token}`;
  inv.invoice_pdf = `${base}/invoice/${internals.token}/pdf`;
  if (autoAdvance !== undefined) {
    inv.auto_advance = autoAdvance;
  }
  if (inv.collection_method === 'send_invoice') {
    const days = internals.daysUntilDue;
    if (days !== null) {
      inv.due_date = now + days * 86400;
    }
  }
  // The balance is read in the invoice's currency before the customer takes it as theirs.
  applyBalanceAtFinalization(emu, inv, customer, request);
  if (customer?.currency === null) {
    customer.currency = inv.currency;
  }
  createDefaultPayment(emu, inv);
  openInvoiceIntent(emu, inv, request);
  if (inv.collection_method === 'charge_automatically' && inv.auto_advance) {
    // Stripe attempts payment about an hour after finalization (run by the test clock).
    inv.next_payment_attempt = now + 3600;
  }
  emitInvoice(emu, 'invoice.finalized', inv, request);
  if (inv.amount_due === 0) {
    markPaid(emu, inv, request, null);
  }
}

/** open|uncollectible → paid. `paymentMethod` null means nothing was charged (zero amount or out of band). */
export function markPaid(
  emu: Emulator,
  inv: Stripe.Invoice,
  request: EventRequest,
  paymentMethod: string | null,
  outOfBand = false,
): void {
  const now = emu.now();
  const amount = inv.amount_remaining;
  const previous = changed(inv, STATUS_KEYS);
  if (outOfBand) {
    inv.amount_paid_off_stripe = (inv.amount_paid_off_stripe ?? 0) + amount;
  }
  inv.amount_paid += amount;
  inv.amount_remaining = 0;
  inv.status = 'paid';
  inv.status_transitions.paid_at = now;
  inv.next_payment_attempt = null;
  inv.auto_advance = false;
  internalsOf(emu, inv.id).pendingActionPaymentMethod = null;
  const payment = defaultInvoicePayment(emu, inv);
  if (payment && !outOfBand) {
    payment.status = 'paid';
    payment.amount_paid = amount;
    payment.status_transitions.paid_at = now;
  } else if (payment) {
    payment.status = 'canceled';
    payment.status_transitions.canceled_at = now;
  }
  if (outOfBand) {
    // Stripe cancels the PaymentIntent of an invoice paid outside Stripe.
    cancelIntent(emu, currentIntent(emu, inv), null, request);
  }
  // Stripe sends `invoice.updated` with every status change, beside the event that names it.
  emitInvoice(
    emu,
    outOfBand ? ['invoice.updated', 'invoice.paid'] : ['invoice.updated', 'invoice.paid', 'invoice.payment_succeeded'],
    inv,
    request,
    stillChanged(inv, previous),
  );
  if (!outOfBand && payment && paymentMethod !== null) {
    emu.emit('invoice_payment.paid', payment, request);
  }
  emu.changed();
}

export function voidInvoice(emu: Emulator, inv: Stripe.Invoice, request: EventRequest): void {
  if (inv.status !== 'open' && inv.status !== 'uncollectible') {
    throw invalidState(
      inv.status === 'draft'
        ? 'You can only void invoices that have been finalized. Delete draft invoices instead.'
        : `You cannot void an invoice with status ${inv.status}.`,
      'invoice_not_editable',
    );
  }
  const now = emu.now();
  const previous = changed(inv, STATUS_KEYS);
  inv.status = 'void';
  inv.status_transitions.voided_at = now;
  inv.auto_advance = false;
  inv.next_payment_attempt = null;
  internalsOf(emu, inv.id).pendingActionPaymentMethod = null;
  const payment = defaultInvoicePayment(emu, inv);
  if (payment && payment.status === 'open') {
    payment.status = 'canceled';
    payment.status_transitions.canceled_at = now;
  }
  cancelIntent(emu, currentIntent(emu, inv), 'void_invoice', request);
  emitInvoice(emu, ['invoice.updated', 'invoice.voided'], inv, request, stillChanged(inv, previous));
}

export function markUncollectible(emu: Emulator, inv: Stripe.Invoice, request: EventRequest): void {
  if (inv.status !== 'open') {
    throw invalidState(
      `You can only mark open invoices as uncollectible; this invoice is ${inv.status}.`,
      'invoice_not_editable',
    );
  }
  const previous = changed(inv, STATUS_KEYS);
  inv.status = 'uncollectible';
  inv.status_transitions.marked_uncollectible_at = emu.now();
  inv.auto_advance = false;
  emitInvoice(emu, ['invoice.updated', 'invoice.marked_uncollectible'], inv, request, stillChanged(inv, previous));
}

export function sendInvoice(emu: Emulator, inv: Stripe.Invoice, request: EventRequest): void {
  if (inv.collection_method !== 'send_invoice') {
    throw invalidState(
      "You can only manually send an invoice if its collection method is 'send_invoice'.",
      undefined,
      'collection_method',
    );
  }
  if (inv.status === 'draft') {
    finalize(emu, inv, request);
  }
  if (inv.status === 'void') {
    throw invalidState('You cannot send a voided invoice.', 'invoice_not_editable');
  }
  emitInvoice(emu, 'invoice.sent', inv, request);
}
