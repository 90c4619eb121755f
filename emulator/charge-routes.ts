import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { resourceMissing } from './errors';
import { render } from './expand';
import { newestFirst, paginate, listParams } from './list';
import { allowOnly, rangeFilter, str } from './params';

/** `GET /v1/charges` and `/v1/charges/:id`: the charges invoice payments made (`charges.ts`). */

const LIST_PARAMS = listParams<Stripe.ChargeListParams>('created', 'customer', 'payment_intent', 'transfer_group');

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const customer = str(p, 'customer');
  const paymentIntent = str(p, 'payment_intent');
  const created = rangeFilter(p, 'created');
  const page = paginate(
    newestFirst(ctx.emu.state.charges),
    p,
    '/v1/charges',
    'charge',
    (c) =>
      (customer === undefined || c.customer === customer) &&
      (paymentIntent === undefined || c.payment_intent === paymentIntent) &&
      (!created || created(c.created)),
  );
  return { ...page, data: page.data.map((c) => render(ctx.emu, c, ctx.expand, 'data.')) };
}

function retrieve(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  const charge = ctx.emu.state.charges.get(ctx.path.id);
  if (!charge) {
    throw resourceMissing('charge', ctx.path.id);
  }
  return render(ctx.emu, charge, ctx.expand);
}

export function registerCharges(r: ApiRouter): void {
  r.get('/v1/charges', list);
  r.get('/v1/charges/:id', retrieve);
}
