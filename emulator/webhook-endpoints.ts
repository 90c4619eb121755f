import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { paramInvalid, paramMissing, resourceMissing } from './errors';
import { newestFirst, paginate, PAGE_PARAMS } from './list';
import { allowOnly, applyMetadata, bool, str, strList } from './params';
import { newId, randomToken } from './util';

const CREATE_PARAMS = [
  'api_version',
  'connect',
  'description',
  'enabled_events',
  'expand',
  'metadata',
  'url',
] as const satisfies ReadonlyArray<keyof Stripe.WebhookEndpointCreateParams>;
const UPDATE_PARAMS = [
  'description',
  'disabled',
  'enabled_events',
  'expand',
  'metadata',
  'url',
] as const satisfies ReadonlyArray<keyof Stripe.WebhookEndpointUpdateParams>;

function validUrl(url: string): string {
  if (!/^https?:\/\/[^\s]+$/.test(url)) {
    throw paramInvalid('url', `Invalid URL: ${url}`, 'url_invalid');
  }
  return url;
}

/** The secret is only returned when the endpoint is created. */
function withoutSecret(ep: Stripe.WebhookEndpoint): Stripe.WebhookEndpoint {
  const { secret: _secret, ...rest } = ep;
  return rest;
}

function get(ctx: ApiContext): Stripe.WebhookEndpoint {
  const ep = ctx.emu.state.webhookEndpoints.get(ctx.path.id);
  if (!ep) {
    throw resourceMissing('webhook endpoint', ctx.path.id);
  }
  return ep;
}

function create(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, CREATE_PARAMS);
  const url = str(p, 'url');
  if (!url) {
    throw paramMissing('url');
  }
  const events = strList(p, 'enabled_events');
  if (!events || events.length === 0) {
    throw paramMissing('enabled_events');
  }
  const ep: Stripe.WebhookEndpoint = {
    id: newId('we'),
    object: 'webhook_endpoint',
    api_version: str(p, 'api_version') ?? null,
    application: null,
    created: ctx.emu.now(),
    description: str(p, 'description') ?? null,
    enabled_events: events,
    livemode: false,
    metadata: applyMetadata({}, p),
    secret: `whsec_${randomToken(32)}`,
    status: 'enabled',
    url: validUrl(url),
  };
  ctx.emu.state.webhookEndpoints.set(ep.id, ep);
  ctx.emu.changed();
  return ep;
}

function update(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, UPDATE_PARAMS);
  const ep = get(ctx);
  const url = str(p, 'url');
  if (url) {
    ep.url = validUrl(url);
  }
  const events = strList(p, 'enabled_events');
  if (events) {
    ep.enabled_events = events;
  }
  const description = str(p, 'description');
  if (description !== undefined) {
    ep.description = description || null;
  }
  const disabled = bool(p, 'disabled');
  if (disabled !== undefined) {
    ep.status = disabled ? 'disabled' : 'enabled';
  }
  ep.metadata = applyMetadata(ep.metadata, p);
  ctx.emu.changed();
  return withoutSecret(ep);
}

function del(ctx: ApiContext): unknown {
  const ep = get(ctx);
  ctx.emu.state.webhookEndpoints.delete(ep.id);
  ctx.emu.changed();
  const deleted: Stripe.DeletedWebhookEndpoint = { id: ep.id, object: 'webhook_endpoint', deleted: true };
  return deleted;
}

export function registerWebhookEndpoints(r: ApiRouter): void {
  r.post('/v1/webhook_endpoints', create);
  r.get('/v1/webhook_endpoints', (ctx) => {
    allowOnly(ctx.params, PAGE_PARAMS);
    const page = paginate(
      newestFirst(ctx.emu.state.webhookEndpoints),
      ctx.params,
      '/v1/webhook_endpoints',
      'webhook endpoint',
    );
    return { ...page, data: page.data.map(withoutSecret) };
  });
  r.get('/v1/webhook_endpoints/:id', (ctx) => withoutSecret(get(ctx)));
  r.post('/v1/webhook_endpoints/:id', update);
  r.del('/v1/webhook_endpoints/:id', del);
}
