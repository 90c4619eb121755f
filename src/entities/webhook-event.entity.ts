import { Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { WebhookEventStatus } from './enums';

/**
 * A Stripe event as received. Stored before it is acknowledged; the primary key (Stripe's event id) makes a
 * redelivery a no-op. Workers claim pending rows with `FOR UPDATE SKIP LOCKED`.
 */
@Entity({ tableName: 'webhook_events' })
@Index({ properties: ['status', 'nextAttemptAt'] })
@Index({ properties: ['type', 'receivedAt'] })
// Health reads the newest receipt and listings page by it.
@Index({ properties: ['receivedAt'] })
export class WebhookEvent {
  @PrimaryKey({ type: 'text' })
  id!: string;

  @Property({ type: 'text' })
  type!: string;

  @Property({ type: 'text', nullable: true })
  apiVersion?: string | null;

  @Property({ type: 'boolean', default: false })
  livemode: boolean = false;

  /** Id of the Stripe object the event is about (`data.object.id`), for lookups and ordering. */
  @Property({ type: 'text', nullable: true })
  objectId?: string | null;

  @Property({ type: 'json' })
  payload!: Record<string, unknown>;

  @Enum({ items: () => WebhookEventStatus, nativeEnumName: 'webhook_event_status' })
  status: WebhookEventStatus = WebhookEventStatus.PENDING;

  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  nextAttemptAt: Date = new Date();

  @Property({ type: 'text', nullable: true })
  lastError?: string | null;

  /** Stripe's `created` for the event (seconds precision). */
  @Property({ type: 'timestamptz' })
  stripeCreatedAt!: Date;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  receivedAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  processedAt?: Date | null;
}
