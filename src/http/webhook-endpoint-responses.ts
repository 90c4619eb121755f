import type { WebhookEndpoint } from '../entities';
import type { DeliveryRecord } from '../services/outgoing-webhooks/delivery-store';
import type { EndpointWithSecret } from '../services/outgoing-webhooks/webhook-endpoints.service';
import { signingSecretDates } from '../services/outgoing-webhooks/webhook-endpoints.service';
import type { HttpResult } from './http-errors';
import { ok } from './http-errors';

/**
 * The REST presenter of the outgoing webhook endpoint use cases (`/api/v1/webhook-endpoints/*`): every outcome
 * becomes its body here, in the shapes `webhook-endpoints.openapi.ts` documents; failures are the services' errors,
 * mapped once by `http-errors.ts`.
 */

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

function endpointBody(endpoint: WebhookEndpoint, now: number) {
  return {
    endpoint_id: endpoint.id,
    url: endpoint.url,
    event_types: endpoint.eventTypes,
    description: endpoint.description ?? null,
    status: endpoint.status,
    disabled_reason: endpoint.disabledReason ?? null,
    disabled_at: iso(endpoint.disabledAt),
    rate_per_second: endpoint.ratePerSecond,
    signing_secrets: signingSecretDates(endpoint, now).map((s) => ({
      created_at: iso(s.createdAt),
      expires_at: iso(s.expiresAt),
    })),
    created_at: iso(endpoint.createdAt),
  };
}

function deliveryBody(delivery: DeliveryRecord) {
  return {
    delivery_id: delivery.id,
    endpoint_id: delivery.endpointId,
    message_id: delivery.messageId,
    type: delivery.type,
    ordering_key: delivery.orderingKey,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: iso(delivery.nextAttemptAt),
    delivered_at: iso(delivery.deliveredAt),
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    occurred_at: iso(delivery.occurredAt),
    log: delivery.log.map((a) => ({
      attempt: a.attempt,
      status_code: a.statusCode,
      duration_ms: a.durationMs,
      error: a.error,
      attempted_at: iso(a.attemptedAt),
    })),
  };
}

export const endpointResult = (endpoint: WebhookEndpoint, now: number): HttpResult =>
  ok({ endpoint: endpointBody(endpoint, now) });

export const endpointSecretResult = (result: EndpointWithSecret, now: number): HttpResult =>
  ok({ endpoint: endpointBody(result.endpoint, now), secret: result.secret });

export const endpointListResult = (endpoints: WebhookEndpoint[], now: number): HttpResult =>
  ok({ endpoints: endpoints.map((e) => endpointBody(e, now)) });

export const deliveryResult = (delivery: DeliveryRecord): HttpResult => ok({ delivery: deliveryBody(delivery) });

export const deliveryListResult = (deliveries: DeliveryRecord[]): HttpResult =>
  ok({ deliveries: deliveries.map(deliveryBody) });

export const replayResult = (queued: number): HttpResult => ok({ queued });
