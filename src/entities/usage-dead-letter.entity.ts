import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * A usage event the JetStream intake (`USAGE_INGEST=jetstream`) accepted and its writer could not store: a metric
 * unknown or inactive by the time it was written, or rows the database refused. Kept with the reason so that nothing
 * accepted is lost silently; an operator replays or discards it (docs/scaling.md).
 */
@Entity({ tableName: 'usage_dead_letters' })
@Index({ properties: ['recordedAt'] })
export class UsageDeadLetter {
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  /** The event as queued, JSON text (kept even when it is not storable as `jsonb`). */
  @Property({ type: 'text' })
  payload!: string;

  @Property({ type: 'text' })
  code!: string;

  @Property({ type: 'text' })
  message!: string;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  recordedAt!: Date;
}
