import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * The outbox: one row per event for the platform (`invoice.paid`, …), inserted in the transaction of the change that
 * causes it. `id` orders events; `messageId` is the Standard Webhooks `webhook-id`, the same on every retry.
 */
@Entity({ tableName: 'outgoing_events' })
@Index({ properties: ['orderingKey', 'id'] })
export class OutgoingEvent {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'text', unique: true })
  messageId!: string;

  @Property({ type: 'text' })
  type!: string;

  /** What the order of delivery is kept per: the invoice id; null for events with no order to keep. */
  @Property({ type: 'text', nullable: true })
  orderingKey?: string | null;

  /** The `data` of the message. */
  @Property({ type: 'json' })
  data!: Record<string, unknown>;

  @Property({ type: 'timestamptz' })
  occurredAt!: Date;
}
