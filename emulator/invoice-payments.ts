import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { resourceMissing } from './errors';
import { render } from './expand';
import { newestFirst, paginate, listParams } from './list';
import { allowOnly, oneOf, rangeFilter, str } from './params';

const LIST_PARAMS = listParams<Stripe.InvoicePaymentListParams>('created', 'invoice', 'payment', 'status');

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const invoice = str(p, 'invoice');
  const status = oneOf(p, 'status', ['canceled', 'open', 'paid'] as const);
  const created = rangeFilter(p, 'created');
  const payment = p.payment;
  const pi =
    payment && typeof payment === 'object' && !Array.isArray(payment) ? str(payment, 'payment_intent') : undefined;
  const page = paginate(
    invoice === undefined
      ? newestFirst(ctx.emu.state.invoicePayments)
      : ctx.emu.state.invoicePayments.newestFirstBy('invoice', invoice),
    p,
    '/v1/invoice_payments',
    'invoice payment',
    (x) =>
      (invoice === undefined || x.invoice === invoice) &&
      (status === undefined || x.status === status) &&
      (!created || created(x.created)) &&
      (pi === undefined || x.payment.payment_intent === pi),
  );
  return { ...page, data: page.data.map((x) => render(ctx.emu, x, ctx.expand, 'data.')) };
}

function retrieve(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  const x = ctx.emu.state.invoicePayments.get(ctx.path.id);
  if (!x) {
    throw resourceMissing('invoice payment', ctx.path.id);
  }
  return render(ctx.emu, x, ctx.expand);
}

export function registerInvoicePayments(r: ApiRouter): void {
  r.get('/v1/invoice_payments', list);
  r.get('/v1/invoice_payments/:id', retrieve);
}
