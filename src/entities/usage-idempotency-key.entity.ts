import { Entity, PrimaryKey } from '@mikro-orm/core';

/**
 * The idempotency key of every usage event stored: written by the statement that stores the events, only the events
 * whose key it takes are stored, so a retry (whatever its `occurredAt`, whatever partition it would land in) is
 * stored once. Kept when a month's partition is dropped for retention: a retry of such an event stays a duplicate.
 */
@Entity({ tableName: 'usage_idempotency_keys' })
export class UsageIdempotencyKey {
  @PrimaryKey({ type: 'uuid' })
  customerId!: string;

  @PrimaryKey({ type: 'text' })
  idempotencyKey!: string;
}
