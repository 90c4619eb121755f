import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { OutgoingDeliveryStatus } from './enums';
import { OutgoingEvent } from './outgoing-event.entity';
import { WebhookEndpoint } from './webhook-endpoint.entity';

/**
 * One event to one endpoint: created with the event (for the endpoints that want its type), claimed with
 * `FOR UPDATE SKIP LOCKED` and a lease, retried with backoff; only the oldest undelivered one per endpoint and
 * ordering key is claimable, so an invoice's events arrive in order.
 */
@Entity({ tableName: 'outgoing_deliveries' })
@Unique({ properties: ['event', 'endpoint'] })
@Index({ properties: ['status', 'nextAttemptAt'] })
@Index({ properties: ['endpoint', 'orderingKey', 'event'] })
export class OutgoingDelivery {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => OutgoingEvent, { deleteRule: 'cascade' })
  event!: OutgoingEvent;

  @ManyToOne(() => WebhookEndpoint, { deleteRule: 'cascade' })
  endpoint!: WebhookEndpoint;

  /** The event's, copied so the claim's order check reads one table. */
  @Property({ type: 'text', nullable: true })
  orderingKey?: string | null;

  @Enum({ items: () => OutgoingDeliveryStatus, nativeEnumName: 'outgoing_delivery_status' })
  status: OutgoingDeliveryStatus = OutgoingDeliveryStatus.PENDING;

  @Property({ type: 'integer', default: 0 })
  attempts: number = 0;

  @Property({ type: 'timestamptz' })
  nextAttemptAt!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  leaseUntil?: Date | null;

  /** When the retry window started: the first attempt (or the replay). */
  @Property({ type: 'timestamptz', nullable: true })
  firstAttemptAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  deliveredAt?: Date | null;

  @Property({ type: 'integer', nullable: true })
  lastStatusCode?: number | null;

  @Property({ type: 'text', nullable: true })
  lastError?: string | null;

  /** A replay asked for while an attempt was in flight: queued again from its first attempt when that attempt ends. */
  @Property({ type: 'boolean', default: false })
  replayRequested: boolean = false;
}
