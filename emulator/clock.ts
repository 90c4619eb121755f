import type Stripe from 'stripe';
import { AUTOMATIC, type Emulator } from './context';
import { internalsOf, invoiceView } from './invoice-model';
import { finalize, sendInvoice } from './lifecycle';
import { charge } from './payments';
import { lookupPaymentMethod } from './payment-methods';

/**
 * Move emulator time forward and run what Stripe would have done meanwhile:
 * auto-advancing drafts are finalized (and sent or charged), open charge_automatically invoices with auto_advance
 * are charged an hour after finalization (default payment method), and open send_invoice invoices past due get
 * `invoice.overdue`. Idempotency keys older than 24 h expire on their own (they compare with emulator time).
 */
export function advanceClock(emu: Emulator, seconds: number): { now: number; offset: number } {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error('seconds must be a non-negative number');
  }
  emu.state.clockOffset += Math.floor(seconds);
  runScheduledWork(emu);
  emu.changed();
  return { now: emu.now(), offset: emu.state.clockOffset };
}

function defaultPaymentMethod(emu: Emulator, inv: Stripe.Invoice): Stripe.PaymentMethod | undefined {
  const customer = typeof inv.customer === 'string' ? emu.state.customers.get(inv.customer) : undefined;
  const pmId =
    (typeof inv.default_payment_method === 'string' ? inv.default_payment_method : null) ??
    (typeof customer?.invoice_settings.default_payment_method === 'string'
      ? customer.invoice_settings.default_payment_method
      : null);
  return pmId ? lookupPaymentMethod(emu, pmId) : undefined;
}

export function runScheduledWork(emu: Emulator): void {
  const now = emu.now();
  for (const inv of [...emu.state.invoices.values()]) {
    const finalizeAt = inv.automatically_finalizes_at;
    if (inv.status === 'draft' && inv.auto_advance && finalizeAt !== null && finalizeAt <= now) {
      finalize(emu, inv, AUTOMATIC);
      if (inv.status === 'open' && inv.collection_method === 'send_invoice') {
        sendInvoice(emu, inv, AUTOMATIC);
      } else if (inv.status === 'open') {
        // An automatically finalized invoice is charged at once.
        inv.next_payment_attempt = now;
      }
    }
    const attemptAt = inv.next_payment_attempt;
    if (inv.status === 'open' && inv.auto_advance && attemptAt !== null && attemptAt <= now) {
      inv.next_payment_attempt = null;
      const pm = defaultPaymentMethod(emu, inv);
      if (pm) {
        charge(emu, inv, pm, AUTOMATIC);
      }
    }
    const internals = emu.state.internals.get(inv.id);
    if (
      inv.status === 'open' &&
      inv.collection_method === 'send_invoice' &&
      inv.due_date !== null &&
      inv.due_date < now &&
      !internals?.overdueSent
    ) {
      internalsOf(emu, inv.id).overdueSent = true;
      emu.emit('invoice.overdue', invoiceView(inv), AUTOMATIC);
    }
  }
}
