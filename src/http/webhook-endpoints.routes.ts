import express from 'express';
import type { Router } from 'express';
import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Database } from '../entities/orm';
import type { SecretBox } from '../lib/secret-box';
import type { OutgoingDeliveryStatus } from '../entities/enums';
import type { TokenVerifier } from '../services/customers/auth.service';
import type { Caller } from '../services/customers/caller';
import type { EndpointDeps, EndpointInput } from '../services/outgoing-webhooks/webhook-endpoints.service';
import {
  createWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookDeliveries,
  replayWebhookDelivery,
  rotateWebhookEndpointSecret,
  setWebhookEndpointEnabled,
  updateWebhookEndpoint,
} from '../services/outgoing-webhooks/webhook-endpoints.service';
import type { HttpResult } from './http-errors';
import { jsonBody } from './json-body';
import type { RestInput } from './request-validation';
import { restRoute } from './rest-route';
import {
  deliveryListResult,
  deliveryResult,
  endpointListResult,
  endpointResult,
  endpointSecretResult,
  replayResult,
} from './webhook-endpoint-responses';

export interface WebhookEndpointRouterDeps {
  db: Database;
  verify: TokenVerifier;
  config: AppConfig;
  secretBox: SecretBox;
  clock?: Clock;
}

/** The paths served (Express syntax); `webhook-endpoints.openapi.ts` describes the same ones. */
export const WEBHOOK_ENDPOINT_PATHS = {
  endpoints: '/api/v1/webhook-endpoints',
  endpoint: '/api/v1/webhook-endpoints/:endpoint_id',
  disable: '/api/v1/webhook-endpoints/:endpoint_id/disable',
  enable: '/api/v1/webhook-endpoints/:endpoint_id/enable',
  rotate: '/api/v1/webhook-endpoints/:endpoint_id/rotate-secret',
  deliveries: '/api/v1/webhook-endpoints/:endpoint_id/deliveries',
  replayRange: '/api/v1/webhook-endpoints/:endpoint_id/replay',
  replayDelivery: '/api/v1/webhook-deliveries/:delivery_id/replay',
} as const;

const parseJson = jsonBody('16kb');

/** REST names → the service's input (absent stays absent: an update changes only what is sent). */
function endpointInput(body: RestInput['body']): EndpointInput {
  const b = (body ?? {}) as {
    url?: string;
    event_types?: string[];
    description?: string | null;
    rate_per_second?: number;
  };
  return { url: b.url, eventTypes: b.event_types, description: b.description, ratePerSecond: b.rate_per_second };
}

/**
 * The admins' REST routes over outgoing webhook endpoints: thin routes over the same services as the GraphQL
 * resolver (`outgoing-webhooks.resolver.ts`), each validated by its operation in the OpenAPI document, answered by
 * `webhook-endpoint-responses.ts`.
 */
export function webhookEndpointRouter(deps: WebhookEndpointRouterDeps): Router {
  const { db, verify, config, secretBox, clock = systemClock } = deps;
  const router = express.Router({ strict: true });
  const services = (caller: Caller): EndpointDeps => ({
    em: db.orm.em.fork(),
    caller,
    allowPrivateHosts: config.outgoingWebhooks.allowPrivateHosts,
    secretBox,
    now: new Date(clock.now()),
  });
  const route = (
    operationId: string,
    handler: (input: RestInput, caller: Caller) => Promise<HttpResult>,
    options: { json?: boolean } = {},
  ) => restRoute(verify, operationId, handler, options.json ? { parseJson } : {});
  const endpointId = (input: RestInput): string => input.params.endpoint_id as string;

  router.get(
    WEBHOOK_ENDPOINT_PATHS.endpoints,
    route('listWebhookEndpoints', async (_input, caller) =>
      endpointListResult(await listWebhookEndpoints(services(caller)), clock.now()),
    ),
  );
  router.post(
    WEBHOOK_ENDPOINT_PATHS.endpoints,
    route(
      'createWebhookEndpoint',
      async ({ body }, caller) =>
        endpointSecretResult(await createWebhookEndpoint(services(caller), endpointInput(body)), clock.now()),
      { json: true },
    ),
  );
  router.get(
    WEBHOOK_ENDPOINT_PATHS.endpoint,
    route('getWebhookEndpoint', async (input, caller) =>
      endpointResult(await getWebhookEndpoint(services(caller), endpointId(input)), clock.now()),
    ),
  );
  router.patch(
    WEBHOOK_ENDPOINT_PATHS.endpoint,
    route(
      'updateWebhookEndpoint',
      async (input, caller) =>
        endpointResult(
          await updateWebhookEndpoint(services(caller), endpointId(input), endpointInput(input.body)),
          clock.now(),
        ),
      { json: true },
    ),
  );
  router.post(
    WEBHOOK_ENDPOINT_PATHS.disable,
    route(
      'disableWebhookEndpoint',
      async (input, caller) => {
        const { reason } = (input.body ?? {}) as { reason?: string };
        return endpointResult(
          await setWebhookEndpointEnabled(services(caller), endpointId(input), false, reason),
          clock.now(),
        );
      },
      { json: true },
    ),
  );
  router.post(
    WEBHOOK_ENDPOINT_PATHS.enable,
    route('enableWebhookEndpoint', async (input, caller) =>
      endpointResult(await setWebhookEndpointEnabled(services(caller), endpointId(input), true), clock.now()),
    ),
  );
  router.post(
    WEBHOOK_ENDPOINT_PATHS.rotate,
    route(
      'rotateWebhookEndpointSecret',
      async (input, caller) => {
        const { overlap_hours: overlapHours } = (input.body ?? {}) as { overlap_hours?: number };
        return endpointSecretResult(
          await rotateWebhookEndpointSecret(services(caller), endpointId(input), overlapHours),
          clock.now(),
        );
      },
      { json: true },
    ),
  );
  router.get(
    WEBHOOK_ENDPOINT_PATHS.deliveries,
    route('listWebhookDeliveries', async (input, caller) =>
      deliveryListResult(
        await listWebhookDeliveries(services(caller), endpointId(input), {
          status: input.params.status as OutgoingDeliveryStatus | undefined,
          first: input.params.limit as number,
        }),
      ),
    ),
  );
  router.post(
    WEBHOOK_ENDPOINT_PATHS.replayRange,
    route(
      'replayWebhookDeliveries',
      async (input, caller) => {
        const { from, to } = input.body as { from: string; to: string };
        return replayResult(
          await replayWebhookDeliveries(services(caller), endpointId(input), {
            from: new Date(from),
            to: new Date(to),
          }),
        );
      },
      { json: true },
    ),
  );
  router.post(
    WEBHOOK_ENDPOINT_PATHS.replayDelivery,
    route('replayWebhookDelivery', async (input, caller) =>
      deliveryResult(await replayWebhookDelivery(services(caller), input.params.delivery_id as string)),
    ),
  );
  return router;
}
