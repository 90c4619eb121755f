import { OUTGOING_EVENT_TYPES } from '../services/outgoing-webhooks/event-types';

/**
 * The OpenAPI description of the outgoing webhook endpoint routes (`webhook-endpoints.routes.ts`), merged into the
 * one document (`openapi.ts`): its paths and its component schemas, which are also the routes' request validation.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);

/** Responses every route here can give: all are for admins. */
const ADMIN = {
  '401': error('Missing, malformed, invalid or expired Bearer token (`unauthenticated`)'),
  '403': error('The caller is not an admin (`forbidden`)'),
  '500': error('Unexpected failure (`internal_error`); never a stack trace'),
};
const BODY = {
  '400': error('Malformed JSON (`invalid_json`) or body (`invalid_request`)'),
  '413': error('Body too large (`payload_too_large`)'),
  '415': error('Unsupported body encoding (`unsupported_media_type`)'),
};
const endpointIdPath = {
  name: 'endpoint_id',
  in: 'path',
  required: true,
  description: 'Endpoint id (UUID); anything else answers 404',
  schema: { type: 'string' },
};
const notFound = error('No such endpoint (`not_found`)');
const invalid = { status: 422, code: 'validation_error' };
const dateTime = { type: ['string', 'null'], format: 'date-time' };
const body = (name: string, required = true) => ({
  required,
  content: { 'application/json': { schema: ref(name) } },
});

export const webhookEndpointPaths = {
  '/api/v1/webhook-endpoints': {
    get: {
      operationId: 'listWebhookEndpoints',
      summary: 'Outgoing webhook endpoints (admins)',
      description: 'Every registered endpoint, oldest first. As GraphQL’s `webhookEndpoints`.',
      responses: { '200': json(ref('WebhookEndpointList'), 'The endpoints'), ...ADMIN },
    },
    post: {
      operationId: 'createWebhookEndpoint',
      summary: 'Register an endpoint (admins); its signing secret is answered once',
      description:
        'Standard Webhooks: every message to it is signed with `secret` (`whsec_…`), which is never shown again. As GraphQL’s `createWebhookEndpoint`.',
      requestBody: body('WebhookEndpointCreateRequest'),
      responses: {
        '200': json(ref('WebhookEndpointSecretSuccess'), 'Registered: the endpoint and its signing secret'),
        ...BODY,
        ...ADMIN,
        '422': error(
          'A URL that is not http(s), carries credentials or names a private address, unknown or no event types, or a rate out of range (`validation_error`, `param` says which)',
        ),
      },
    },
  },
  '/api/v1/webhook-endpoints/{endpoint_id}': {
    get: {
      operationId: 'getWebhookEndpoint',
      summary: 'One endpoint (admins)',
      parameters: [endpointIdPath],
      responses: { '200': json(ref('WebhookEndpointSuccess'), 'The endpoint'), ...ADMIN, '404': notFound },
    },
    patch: {
      operationId: 'updateWebhookEndpoint',
      summary: "Change an endpoint's URL, event types, description or rate (admins)",
      description: 'Only the fields sent change. As GraphQL’s `updateWebhookEndpoint`.',
      parameters: [endpointIdPath],
      requestBody: body('WebhookEndpointUpdateRequest'),
      responses: {
        '200': json(ref('WebhookEndpointSuccess'), 'The endpoint as it is now'),
        ...BODY,
        ...ADMIN,
        '404': notFound,
        '422': error('A bad URL, event types or rate (`validation_error`, `param` says which)'),
      },
    },
  },
  '/api/v1/webhook-endpoints/{endpoint_id}/disable': {
    post: {
      operationId: 'disableWebhookEndpoint',
      summary: 'Stop sending to an endpoint (admins)',
      description: 'Events still queue for it, and are sent in order once it is enabled again.',
      parameters: [endpointIdPath],
      requestBody: body('WebhookEndpointDisableRequest', false),
      responses: {
        '200': json(ref('WebhookEndpointSuccess'), 'Disabled'),
        ...BODY,
        ...ADMIN,
        '404': notFound,
        '422': error('A reason over 500 characters (`validation_error`)'),
      },
    },
  },
  '/api/v1/webhook-endpoints/{endpoint_id}/enable': {
    post: {
      operationId: 'enableWebhookEndpoint',
      summary: 'Send to an endpoint again, its failed deliveries first (admins)',
      parameters: [endpointIdPath],
      responses: { '200': json(ref('WebhookEndpointSuccess'), 'Enabled'), ...ADMIN, '404': notFound },
    },
  },
  '/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret': {
    post: {
      operationId: 'rotateWebhookEndpointSecret',
      summary: 'A new signing secret (admins), answered once',
      description:
        'The current secrets keep signing for `overlap_hours` (default 24; 0 ends them now): each message carries one signature per secret in use. As GraphQL’s `rotateWebhookEndpointSecret`.',
      parameters: [endpointIdPath],
      requestBody: body('WebhookEndpointRotateRequest', false),
      responses: {
        '200': json(ref('WebhookEndpointSecretSuccess'), 'Rotated: the endpoint and its new secret'),
        ...BODY,
        ...ADMIN,
        '404': notFound,
        '422': error('`overlap_hours` out of range (`validation_error`)'),
      },
    },
  },
  '/api/v1/webhook-endpoints/{endpoint_id}/deliveries': {
    get: {
      operationId: 'listWebhookDeliveries',
      summary: "An endpoint's deliveries, newest first, each with its attempt log (admins)",
      parameters: [
        endpointIdPath,
        {
          name: 'status',
          in: 'query',
          required: false,
          description: 'Only deliveries in this state',
          schema: { type: 'string', enum: ['pending', 'delivering', 'delivered', 'failed'] },
        },
        {
          name: 'limit',
          in: 'query',
          required: false,
          allowEmptyValue: true,
          description: 'How many (1–500, default 50)',
          schema: { type: 'integer', minimum: 1, maximum: 500, default: 50, 'x-error': { code: 'invalid_limit' } },
        },
      ],
      responses: {
        '200': json(ref('WebhookDeliveryList'), 'The deliveries'),
        '400': error('Malformed `status` (`invalid_request`) or `limit` (`invalid_limit`)'),
        ...ADMIN,
        '404': notFound,
      },
    },
  },
  '/api/v1/webhook-endpoints/{endpoint_id}/replay': {
    post: {
      operationId: 'replayWebhookDeliveries',
      summary: "Send again an endpoint's deliveries of the events of a time range (admins)",
      description:
        'Every delivery of the events that occurred in `[from, to)`, from its first attempt (same `webhook-id`, log kept), in order per invoice; one in flight is sent again once its attempt ends. As GraphQL’s `replayWebhookDeliveries`.',
      parameters: [endpointIdPath],
      requestBody: body('WebhookReplayRequest'),
      responses: {
        '200': json(ref('WebhookReplaySuccess'), 'Queued: how many'),
        ...BODY,
        ...ADMIN,
        '404': notFound,
        '422': error('`from` not before `to` (`validation_error`)'),
      },
    },
  },
  '/api/v1/webhook-deliveries/{delivery_id}/replay': {
    post: {
      operationId: 'replayWebhookDelivery',
      summary: 'Send one delivery again (admins)',
      description:
        'From its first attempt, with the same `webhook-id`; its log is kept. One being sent right now is answered as it is. As GraphQL’s `replayWebhookDelivery`.',
      parameters: [
        {
          name: 'delivery_id',
          in: 'path',
          required: true,
          description: 'Delivery id (digits); anything else answers 404',
          schema: { type: 'string' },
        },
      ],
      responses: {
        '200': json(ref('WebhookDeliverySuccess'), 'The delivery, queued'),
        ...ADMIN,
        '404': error('No such delivery (`not_found`)'),
      },
    },
  },
};

const endpointFields = {
  url: {
    type: 'string',
    minLength: 1,
    maxLength: 2000,
    'x-storable': true,
    'x-error': { ...invalid, keywords: ['minLength', 'maxLength'] },
  },
  event_types: {
    type: 'array',
    minItems: 1,
    maxItems: OUTGOING_EVENT_TYPES.length,
    items: { type: 'string', enum: [...OUTGOING_EVENT_TYPES], 'x-error': invalid },
    'x-error': { ...invalid, keywords: ['minItems', 'maxItems'] },
  },
  description: { type: ['string', 'null'], maxLength: 500, 'x-storable': true },
  rate_per_second: {
    type: 'integer',
    minimum: 1,
    maximum: 1000,
    description: 'Deliveries per second to it, across all instances (default 10)',
    'x-error': { ...invalid, keywords: ['minimum', 'maximum', 'type'] },
  },
};

export const webhookEndpointSchemas = {
  WebhookEndpoint: {
    type: 'object',
    required: ['endpoint_id', 'url', 'event_types', 'status', 'rate_per_second', 'signing_secrets', 'created_at'],
    properties: {
      endpoint_id: { type: 'string', format: 'uuid' },
      url: { type: 'string' },
      event_types: { type: 'array', items: { type: 'string', enum: [...OUTGOING_EVENT_TYPES] } },
      description: { type: ['string', 'null'] },
      status: { type: 'string', enum: ['active', 'disabled'] },
      disabled_reason: { type: ['string', 'null'], description: "An admin's reason, or the persistent failure" },
      disabled_at: dateTime,
      rate_per_second: { type: 'integer' },
      signing_secrets: {
        type: 'array',
        description: 'The secrets signing now, by date only: their values are never shown again',
        items: {
          type: 'object',
          required: ['created_at', 'expires_at'],
          properties: { created_at: dateTime, expires_at: dateTime },
        },
      },
      created_at: dateTime,
    },
  },
  WebhookEndpointSuccess: {
    allOf: [
      ref('Success'),
      { type: 'object', required: ['endpoint'], properties: { endpoint: ref('WebhookEndpoint') } },
    ],
  },
  WebhookEndpointSecretSuccess: {
    allOf: [
      ref('Success'),
      {
        type: 'object',
        required: ['endpoint', 'secret'],
        properties: {
          endpoint: ref('WebhookEndpoint'),
          secret: { type: 'string', pattern: '^whsec_', description: 'Shown this once: store it now' },
        },
      },
    ],
  },
  WebhookEndpointList: {
    allOf: [
      ref('Success'),
      {
        type: 'object',
        required: ['endpoints'],
        properties: { endpoints: { type: 'array', items: ref('WebhookEndpoint') } },
      },
    ],
  },
  WebhookEndpointCreateRequest: {
    type: 'object',
    required: ['url', 'event_types'],
    additionalProperties: false,
    properties: endpointFields,
  },
  WebhookEndpointUpdateRequest: { type: 'object', additionalProperties: false, properties: endpointFields },
  WebhookEndpointDisableRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      reason: {
        type: 'string',
        maxLength: 500,
        'x-storable': true,
        'x-error': { ...invalid, keywords: ['maxLength'] },
      },
    },
  },
  WebhookEndpointRotateRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      overlap_hours: {
        type: 'integer',
        minimum: 0,
        maximum: 720,
        description: 'How long the current secrets keep signing (default 24)',
        'x-error': { ...invalid, keywords: ['minimum', 'maximum', 'type'] },
      },
    },
  },
  WebhookReplayRequest: {
    type: 'object',
    required: ['from', 'to'],
    additionalProperties: false,
    properties: {
      from: { type: 'string', format: 'date-time', description: 'Events that occurred at or after this time' },
      to: { type: 'string', format: 'date-time', description: '… and before this one' },
    },
  },
  WebhookReplaySuccess: {
    allOf: [
      ref('Success'),
      {
        type: 'object',
        required: ['queued'],
        properties: {
          queued: {
            type: 'integer',
            description: 'Deliveries queued again (one in flight is queued once its attempt ends, and counts)',
          },
        },
      },
    ],
  },
  WebhookDelivery: {
    type: 'object',
    required: ['delivery_id', 'endpoint_id', 'message_id', 'type', 'status', 'attempts', 'occurred_at', 'log'],
    properties: {
      delivery_id: { type: 'string' },
      endpoint_id: { type: 'string', format: 'uuid' },
      message_id: { type: 'string', description: 'The `webhook-id` header: the same on every retry and replay' },
      type: { type: 'string' },
      ordering_key: { type: ['string', 'null'], description: 'The invoice (or run) whose events go in order' },
      status: { type: 'string', enum: ['pending', 'delivering', 'delivered', 'failed'] },
      attempts: { type: 'integer' },
      next_attempt_at: { ...dateTime, description: 'When the next retry is due (null: at once, or none)' },
      delivered_at: dateTime,
      last_status_code: { type: ['integer', 'null'] },
      last_error: { type: ['string', 'null'] },
      occurred_at: dateTime,
      log: {
        type: 'array',
        items: {
          type: 'object',
          required: ['attempt', 'status_code', 'duration_ms', 'error', 'attempted_at'],
          properties: {
            attempt: { type: 'integer' },
            status_code: { type: ['integer', 'null'] },
            duration_ms: { type: 'integer' },
            error: { type: ['string', 'null'] },
            attempted_at: dateTime,
          },
        },
      },
    },
  },
  WebhookDeliverySuccess: {
    allOf: [
      ref('Success'),
      { type: 'object', required: ['delivery'], properties: { delivery: ref('WebhookDelivery') } },
    ],
  },
  WebhookDeliveryList: {
    allOf: [
      ref('Success'),
      {
        type: 'object',
        required: ['deliveries'],
        properties: { deliveries: { type: 'array', items: ref('WebhookDelivery') } },
      },
    ],
  },
};
