import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { resourceMissing } from './errors';
import { newestFirst, paginate, listParams } from './list';
import { allowOnly, bool, rangeFilter, str, strList } from './params';
import { eventMatches } from './webhook-delivery';

const LIST_PARAMS = listParams<Stripe.EventListParams>('created', 'delivery_success', 'type', 'types');

/** Stripe keeps events for 30 days. */
const RETENTION_SECONDS = 30 * 86400;

function visible(ctx: ApiContext, e: Stripe.Event): boolean {
  return e.created > ctx.emu.now() - RETENTION_SECONDS;
}

function retrieve(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  const e = ctx.emu.state.events.get(ctx.path.id);
  if (!e || !visible(ctx, e)) {
    throw resourceMissing('event', ctx.path.id);
  }
  return e;
}

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const type = str(p, 'type');
  const types = strList(p, 'types');
  const created = rangeFilter(p, 'created');
  const deliverySuccess = bool(p, 'delivery_success');
  return paginate(
    newestFirst(ctx.emu.state.events),
    p,
    '/v1/events',
    'event',
    (e) =>
      visible(ctx, e) &&
      (type === undefined || eventMatches([type], e.type)) &&
      (types === undefined || eventMatches(types, e.type)) &&
      (!created || created(e.created)) &&
      (deliverySuccess === undefined || (e.pending_webhooks === 0) === deliverySuccess),
  );
}

export function registerEvents(r: ApiRouter): void {
  r.get('/v1/events', list);
  r.get('/v1/events/:id', retrieve);
}
