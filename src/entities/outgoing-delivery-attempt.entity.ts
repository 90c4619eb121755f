import { Entity, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { OutgoingDelivery } from './outgoing-delivery.entity';

/** The delivery log: every attempt to POST an event to an endpoint, with what came back. */
@Entity({ tableName: 'outgoing_delivery_attempts' })
export class OutgoingDeliveryAttempt {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => OutgoingDelivery, { deleteRule: 'cascade' })
  delivery!: OutgoingDelivery;

  @Property({ type: 'integer' })
  attempt!: number;

  /** The receiver's HTTP status; null when none came (refused, timed out). */
  @Property({ type: 'integer', nullable: true })
  statusCode?: number | null;

  @Property({ type: 'integer' })
  durationMs!: number;

  @Property({ type: 'text', nullable: true })
  error?: string | null;

  @Property({ type: 'timestamptz' })
  attemptedAt!: Date;
}
