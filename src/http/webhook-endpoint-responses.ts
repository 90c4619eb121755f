import type { WebhookEndpoint } from '../entities';
import type { DeliveryRecord } from '../services/outgoing-webhooks/delivery-store';
import type { EndpointWithSecret } from '../services/outgoing-webhooks/webhook-endpoints.service';
import { webhookEndpointView } from '../services/outgoing-webhooks/webhook-endpoints.service';
import type { HttpResult } from './http-errors';
import { ok } from './http-errors';

/**
 * The REST presenter of the outgoing webhook endpoint use cases (`/api/v1/webhook-endpoints/*`): every outcome
 * becomes its body here, in the shapes `webhook-endpoints.openapi.ts` documents; failures are the services' errors,
 * mapped once by `http-errors.ts`.
 */

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

/** The use cases' view of an endpoint (`webhookEndpointView`) in REST's names. */
function endpointBody(endpoint: WebhookEndpoint, now: number) {
  const view = webhookEndpointView(endpoint, now);
  return {
    endpoint_id: view.id,
    url: view.url,
    event_types: view.eventTypes,
    description: view.description,
    status: view.status,
    disabled_reason: view.disabledReason,
    disabled_at: iso(view.disabledAt),
    rate_per_second: view.ratePerSecond,
    signing_secrets: view.signingSecrets.map((s) => ({ created_at: iso(s.createdAt), expires_at: iso(s.expiresAt) })),
    created_at: iso(view.createdAt),
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
