import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { invalidState, resourceMissing } from './errors';
import { render } from './expand';
import { newestFirst, paginate, listParams } from './list';
import { allowOnly, applyMetadata, int, oneOf, rangeFilter, str } from './params';
import { REFUND_REASONS, chargeOfIntent, checkRefund, createRefund, getCharge } from './refunds';

/** `/v1/refunds`: create (on a charge or a PaymentIntent), retrieve, update, cancel, list. */

const CREATE_PARAMS = [
  'amount',
  'charge',
  'currency',
  'customer',
  'expand',
  'instructions_email',
  'metadata',
  'origin',
  'payment_intent',
  'reason',
] as const satisfies ReadonlyArray<keyof Stripe.RefundCreateParams>;

const LIST_PARAMS = listParams<Stripe.RefundListParams>('charge', 'created', 'payment_intent');

function create(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, CREATE_PARAMS);
  const chargeId = str(p, 'charge');
  const intentId = str(p, 'payment_intent');
  if (!chargeId && !intentId) {
    throw invalidState('One of the following params should be provided for this request: payment_intent or charge.');
  }
  const charge = chargeId ? getCharge(ctx.emu, chargeId) : chargeOfIntent(ctx.emu, intentId as string);
  if (chargeId && intentId && charge.payment_intent !== intentId) {
    throw invalidState(`The charge ${chargeId} does not belong to the PaymentIntent ${intentId}.`, undefined, 'charge');
  }
  const amount = checkRefund(charge, int(p, 'amount'));
  const refund = createRefund(
    ctx.emu,
    charge,
    { amount, reason: oneOf(p, 'reason', REFUND_REASONS) ?? null, metadata: applyMetadata({}, p) },
    ctx.request,
  );
  return render(ctx.emu, refund, ctx.expand);
}

function getRefund(ctx: ApiContext): Stripe.Refund {
  const refund = ctx.emu.state.refunds.get(ctx.path.id);
  if (!refund) {
    throw resourceMissing('refund', ctx.path.id);
  }
  return refund;
}

function retrieve(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  return render(ctx.emu, getRefund(ctx), ctx.expand);
}

function update(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand', 'metadata'] satisfies Array<keyof Stripe.RefundUpdateParams>);
  const refund = getRefund(ctx);
  const before = refund.metadata ?? {};
  const next = applyMetadata(before, ctx.params);
  if (JSON.stringify(next) !== JSON.stringify(before)) {
    refund.metadata = next;
    ctx.emu.emit('refund.updated', refund, ctx.request, { metadata: before });
  }
  return render(ctx.emu, refund, ctx.expand);
}

/** Card refunds succeed at once in test mode, so none is ever pending: Stripe refuses to cancel them. */
function cancel(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  const refund = getRefund(ctx);
  throw invalidState(
    `You can only cancel refunds with a status of requires_action; this refund is ${refund.status ?? 'unknown'}.`,
    'refund_not_cancelable',
  );
}

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const charge = str(p, 'charge');
  const intent = str(p, 'payment_intent');
  const created = rangeFilter(p, 'created');
  const page = paginate(
    newestFirst(ctx.emu.state.refunds),
    p,
    '/v1/refunds',
    'refund',
    (r) =>
      (charge === undefined || r.charge === charge) &&
      (intent === undefined || r.payment_intent === intent) &&
      (!created || created(r.created)),
  );
  return { ...page, data: page.data.map((r) => render(ctx.emu, r, ctx.expand, 'data.')) };
}

export function registerRefunds(r: ApiRouter): void {
  r.post('/v1/refunds', create);
  r.get('/v1/refunds', list);
  r.get('/v1/refunds/:id', retrieve);
  r.post('/v1/refunds/:id', update);
  r.post('/v1/refunds/:id/cancel', cancel);
}
