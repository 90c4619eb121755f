import type Stripe from 'stripe';
import type { Emulator } from './context';
import { resourceMissing } from './errors';
import type { InvoiceInternals } from './state';
import { newId, randomToken } from './util';

export function getInvoice(emu: Emulator, id: string, param = 'id'): Stripe.Invoice {
  const inv = emu.state.invoices.get(id);
  if (!inv) {
    throw resourceMissing('invoice', id, param);
  }
  return inv;
}

export function internalsOf(emu: Emulator, invoiceId: string): InvoiceInternals {
  let internals = emu.state.internals.get(invoiceId);
  if (!internals) {
    internals = {
      token: `test_${randomToken(40)}`,
      paymentIntentId: null,
      clientSecret: null,
      pendingActionPaymentMethod: null,
      overdueSent: false,
      daysUntilDue: null,
    };
    emu.state.internals.set(invoiceId, internals);
  }
  return internals;
}

export function findInvoiceByToken(emu: Emulator, token: string): Stripe.Invoice | undefined {
  for (const [id, internals] of emu.state.internals) {
    if (internals.token === token) {
      return emu.state.invoices.get(id);
    }
  }
  return undefined;
}

/** An invoice line for an invoice item (`il_…`, parent `invoice_item_details`). */
export function lineForItem(item: Stripe.InvoiceItem, invoiceId: string): Stripe.InvoiceLineItem {
  return {
    id: newId('il'),
    object: 'line_item',
    amount: item.amount,
    currency: item.currency,
    description: item.description,
    discount_amounts: [],
    discountable: item.discountable,
    discounts: [],
    invoice: invoiceId,
    livemode: false,
    metadata: { ...(item.metadata ?? {}) },
    parent: {
      invoice_item_details: {
        invoice_item: item.id,
        proration: false,
        proration_details: { credited_items: null },
        subscription: null,
      },
      subscription_item_details: null,
      type: 'invoice_item_details',
    },
    period: { ...item.period },
    pretax_credit_amounts: [],
    pricing: item.pricing,
    quantity: item.quantity,
    quantity_decimal: item.quantity_decimal,
    subscription: null,
    subtotal: item.amount,
    taxes: [],
  };
}

/** Totals follow the lines (no tax, discount or customer balance in the emulator). */
export function recomputeTotals(inv: Stripe.Invoice): void {
  const subtotal = inv.lines.data.reduce((sum, l) => sum + l.amount, 0);
  inv.subtotal = subtotal;
  inv.subtotal_excluding_tax = subtotal;
  inv.total = subtotal;
  inv.total_excluding_tax = subtotal;
  inv.amount_due = Math.max(0, subtotal);
  inv.amount_remaining = Math.max(0, inv.amount_due - inv.amount_paid);
  inv.lines.has_more = false;
}

/** Stripe embeds at most 10 lines in an invoice; the rest are read from /v1/invoices/:id/lines. */
export function invoiceView(inv: Stripe.Invoice): Stripe.Invoice {
  if (inv.lines.data.length <= 10) {
    return inv;
  }
  return { ...inv, lines: { ...inv.lines, data: inv.lines.data.slice(0, 10), has_more: true } };
}

export function attachItem(emu: Emulator, inv: Stripe.Invoice, item: Stripe.InvoiceItem): void {
  item.invoice = inv.id;
  inv.lines.data.push(lineForItem(item, inv.id));
  recomputeTotals(inv);
  emu.changed();
}

/** The invoice payment that tracks the invoice's default payment intent, created at finalization. */
export function defaultInvoicePayment(emu: Emulator, inv: Stripe.Invoice): Stripe.InvoicePayment | undefined {
  for (const p of emu.state.invoicePayments.by('invoice', inv.id)) {
    if (p.is_default) {
      return p;
    }
  }
  return undefined;
}

export function createDefaultPayment(emu: Emulator, inv: Stripe.Invoice): void {
  const internals = internalsOf(emu, inv.id);
  internals.paymentIntentId = newId('pi');
  internals.clientSecret = `${internals.paymentIntentId}_secret_${randomToken(25)}`;
  const payment: Stripe.InvoicePayment = {
    id: newId('inpay'),
    object: 'invoice_payment',
    amount_paid: null,
    amount_requested: inv.amount_due,
    created: emu.now(),
    currency: inv.currency,
    invoice: inv.id,
    is_default: true,
    livemode: false,
    payment: { payment_intent: internals.paymentIntentId, type: 'payment_intent' },
    status: 'open',
    status_transitions: { canceled_at: null, paid_at: null },
  };
  emu.state.invoicePayments.set(payment.id, payment);
}
