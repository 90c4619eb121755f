import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { invalidState } from './errors';
import { getInvoice } from './invoice-model';
import { checkChargeAmount } from './limits';
import { output } from './invoices';
import { finalize, markPaid, markUncollectible, sendInvoice, voidInvoice } from './lifecycle';
import { charge } from './payments';
import { allowOnly, bool, str } from './params';
import { requirePaymentMethod } from './payment-methods';

const FINALIZE_PARAMS = ['auto_advance', 'expand'] as const satisfies ReadonlyArray<
  keyof Stripe.InvoiceFinalizeInvoiceParams
>;
const PAY_PARAMS = [
  'expand',
  'forgive',
  'mandate',
  'off_session',
  'paid_out_of_band',
  'payment_method',
  'source',
] as const satisfies ReadonlyArray<keyof Stripe.InvoicePayParams>;

function finalizeRoute(ctx: ApiContext): unknown {
  allowOnly(ctx.params, FINALIZE_PARAMS);
  const inv = getInvoice(ctx.emu, ctx.path.id);
  finalize(ctx.emu, inv, ctx.request, bool(ctx.params, 'auto_advance'));
  return output(ctx, inv);
}

function payRoute(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, PAY_PARAMS);
  const inv = getInvoice(ctx.emu, ctx.path.id);
  if (inv.status === 'paid') {
    throw invalidState('Invoice is already paid', 'invoice_already_paid');
  }
  if (inv.status === 'void') {
    throw invalidState('This invoice has been voided and cannot be paid.', 'invoice_not_editable');
  }
  const pmId = str(p, 'payment_method');
  const pm = pmId ? requirePaymentMethod(ctx.emu, pmId) : undefined;
  if (inv.status === 'draft') {
    finalize(ctx.emu, inv, ctx.request);
  }
  if (inv.status === 'paid') {
    return output(ctx, inv);
  }
  if (bool(p, 'paid_out_of_band')) {
    markPaid(ctx.emu, inv, ctx.request, null, true);
    return output(ctx, inv);
  }
  const customer = typeof inv.customer === 'string' ? ctx.emu.state.customers.get(inv.customer) : undefined;
  const fallback =
    (typeof inv.default_payment_method === 'string' ? inv.default_payment_method : null) ??
    (typeof customer?.invoice_settings.default_payment_method === 'string'
      ? customer.invoice_settings.default_payment_method
      : null);
  const method = pm ?? (fallback ? requirePaymentMethod(ctx.emu, fallback) : undefined);
  if (!method) {
    throw invalidState(
      'This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.',
      'resource_missing',
      'payment_method',
    );
  }
  // Stripe refuses a card payment outside the currency's limits before it charges anything.
  checkChargeAmount(inv.amount_remaining, inv.currency);
  const result = charge(ctx.emu, inv, method, ctx.request);
  if (result.kind !== 'paid') {
    throw result.error;
  }
  return output(ctx, inv);
}

function simple(action: (ctx: ApiContext, inv: Stripe.Invoice) => void, allowed: readonly string[] = ['expand']) {
  return (ctx: ApiContext): unknown => {
    allowOnly(ctx.params, allowed);
    const inv = getInvoice(ctx.emu, ctx.path.id);
    action(ctx, inv);
    return output(ctx, inv);
  };
}

export function registerInvoiceActions(r: ApiRouter): void {
  r.post('/v1/invoices/:id/finalize', finalizeRoute);
  r.post('/v1/invoices/:id/pay', payRoute);
  r.post(
    '/v1/invoices/:id/send',
    simple((ctx, inv) => sendInvoice(ctx.emu, inv, ctx.request)),
  );
  r.post(
    '/v1/invoices/:id/void',
    simple((ctx, inv) => voidInvoice(ctx.emu, inv, ctx.request)),
  );
  r.post(
    '/v1/invoices/:id/mark_uncollectible',
    simple((ctx, inv) => markUncollectible(ctx.emu, inv, ctx.request)),
  );
}
