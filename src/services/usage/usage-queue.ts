import type { EntityManager } from '@mikro-orm/postgresql';
import type { MetricLookup } from './metric-catalogue';

/** An event as the JetStream intake queues it: validated, normalised, with its metric by code. */
export interface QueuedUsageEvent {
  userId: string;
  metric: string;
  quantity: string;
  occurredAt: string;
  idempotencyKey: string;
  agentId: string | null;
  metadata: Record<string, unknown> | null;
}

/**
 * Where `recordUsage` puts a batch when `USAGE_INGEST=jetstream` (src/queue holds the NATS side): `publish`
 * resolves once the queue has stored every event, `stored` counting those it did not already hold (the same
 * customer and idempotency key within its duplicate window); `metrics` is the catalogue validation reads.
 */
export interface UsageQueue {
  publish(events: QueuedUsageEvent[]): Promise<{ stored: number }>;
  metrics(em: EntityManager, codes: readonly unknown[]): Promise<MetricLookup>;
}
