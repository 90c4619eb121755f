import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { getInvoice } from './invoice-model';
import { COLLECTION_METHODS, output } from './invoices';
import { newestFirst, paginate, PAGE_PARAMS, listParams } from './list';
import { allowOnly, oneOf, rangeFilter, str } from './params';

const LIST_PARAMS = listParams<Stripe.InvoiceListParams>(
  'collection_method',
  'created',
  'customer',
  'customer_account',
  'due_date',
  'status',
  'subscription',
);

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const customer = str(p, 'customer');
  const status = oneOf(p, 'status', ['draft', 'open', 'paid', 'uncollectible', 'void'] as const);
  const collection = oneOf(p, 'collection_method', COLLECTION_METHODS);
  const created = rangeFilter(p, 'created');
  const due = rangeFilter(p, 'due_date');
  const page = paginate(
    customer === undefined
      ? newestFirst(ctx.emu.state.invoices)
      : ctx.emu.state.invoices.newestFirstBy('customer', customer),
    p,
    '/v1/invoices',
    'invoice',
    (i) =>
      (customer === undefined || i.customer === customer) &&
      (status === undefined || i.status === status) &&
      (collection === undefined || i.collection_method === collection) &&
      (!created || created(i.created)) &&
      (!due || (i.due_date !== null && due(i.due_date))),
  );
  return { ...page, data: page.data.map((i) => output(ctx, i, 'data.')) };
}

function lines(ctx: ApiContext): unknown {
  allowOnly(ctx.params, PAGE_PARAMS);
  const inv = getInvoice(ctx.emu, ctx.path.id);
  return paginate(inv.lines.data, ctx.params, `/v1/invoices/${inv.id}/lines`, 'line item');
}

export function registerInvoiceQueries(r: ApiRouter): void {
  r.get('/v1/invoices', list);
  r.get('/v1/invoices/:id/lines', lines);
}
