import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's instruments (Prometheus, prom-client), updated where the work happens: the transports time requests,
 * the Stripe client counts its calls, the webhook worker its applies, the payment use case its outcomes. What is a
 * count of rows (invoices by status, the webhook backlog, billing run progress) is read from the database when
 * `/metrics` is scraped instead (`src/server/metrics.ts`), so every instance reports the same truth.
 *
 * One registry per process, not prom-client's global one: a process that embeds the server keeps its own metrics.
 */
export const processMetrics = new Registry();
collectDefaultMetrics({ register: processMetrics, prefix: 'agenthub_' });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpRequestDuration = new Histogram({
  name: 'agenthub_http_request_duration_seconds',
  help: 'HTTP requests by method, route (the matched pattern, never the raw path) and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [processMetrics],
});

export const graphqlOperationDuration = new Histogram({
  name: 'agenthub_graphql_operation_duration_seconds',
  help: 'GraphQL operations over HTTP by operation name, type and outcome (ok, or the first error code).',
  labelNames: ['operation', 'type', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [processMetrics],
});

export const webhookIntake = new Counter({
  name: 'agenthub_webhook_intake_total',
  help: 'Stripe webhook deliveries by outcome: stored, duplicate, refused (signature, size, rate), error.',
  labelNames: ['outcome'] as const,
  registers: [processMetrics],
});

export const webhookIntakeBatch = new Histogram({
  name: 'agenthub_webhook_intake_batch_events',
  help: 'Stripe events stored by one insert statement of the webhook intake (events arriving together share one).',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200],
  registers: [processMetrics],
});

export const webhookApplyDuration = new Histogram({
  name: 'agenthub_webhook_apply_duration_seconds',
  help: 'Applying one stored Stripe event, by event type and outcome (done, retry, failed).',
  labelNames: ['type', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [processMetrics],
});

export const webhookApplyLatency = new Histogram({
  name: 'agenthub_webhook_apply_latency_seconds',
  help: 'From receiving a Stripe event to having applied it (wall time), by event type.',
  labelNames: ['type'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
  registers: [processMetrics],
});

export const outgoingWebhookAttempts = new Counter({
  name: 'agenthub_outgoing_webhook_attempts_total',
  help: 'Outgoing webhook delivery attempts by event type and outcome (delivered, retry, failed).',
  labelNames: ['type', 'outcome'] as const,
  registers: [processMetrics],
});

export const outgoingWebhookDuration = new Histogram({
  name: 'agenthub_outgoing_webhook_duration_seconds',
  help: 'One outgoing webhook POST, from sending to the answer (or the error), by outcome.',
  labelNames: ['outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [processMetrics],
});

export const outgoingEndpointsDisabled = new Counter({
  name: 'agenthub_outgoing_webhook_endpoints_disabled_total',
  help: 'Outgoing webhook endpoints disabled automatically after failing for the whole retry window.',
  registers: [processMetrics],
});

export const stripeRequests = new Counter({
  name: 'agenthub_stripe_requests_total',
  help: 'HTTP requests to Stripe (each SDK retry counts) by operation (method and path with ids elided) and status.',
  labelNames: ['operation', 'status'] as const,
  registers: [processMetrics],
});

export const stripeRequestDuration = new Histogram({
  name: 'agenthub_stripe_request_duration_seconds',
  help: 'HTTP requests to Stripe by operation.',
  labelNames: ['operation'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [processMetrics],
});

export const paymentOutcomes = new Counter({
  name: 'agenthub_payment_outcomes_total',
  help: 'payInvoice outcomes (paid, declined, requires_action, pending, …) and, for declines, the decline code.',
  labelNames: ['outcome', 'decline_code'] as const,
  registers: [processMetrics],
});

/** `POST /v1/invoices/in_123/pay` → `POST /v1/invoices/:id/pay`: one series per operation, not per object. */
export function stripeOperation(method: string, path: string): string {
  const bare = path.split('?')[0];
  return `${method.toUpperCase()} ${bare.replace(/\/[a-z]+_[A-Za-z0-9]+(?=\/|$)/g, '/:id')}`;
}

export const usageQueueWrites = new Counter({
  name: 'agenthub_usage_queue_writes_total',
  help: 'Usage events the JetStream intake wrote to the database, by outcome: stored, duplicate.',
  labelNames: ['outcome'] as const,
  registers: [processMetrics],
});

export const usageDeadLetters = new Counter({
  name: 'agenthub_usage_dead_letters_total',
  help: 'Usage events the JetStream intake accepted and its writer refused (usage_dead_letters), by code.',
  labelNames: ['code'] as const,
  registers: [processMetrics],
});
