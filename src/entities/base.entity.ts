import { randomUUID } from 'node:crypto';
import { OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * When a row is written: the ORM stamps `updatedAt` with it (`onUpdate`), and so does SQL that writes entities' rows
 * without it, so both agree. The system's time, like `createdAt` and the database's `now()` defaults; business times
 * (periods, due dates, retries) come from the injected clock instead.
 */
export const rowWrittenAt = (): Date => new Date();

/** uuid primary key generated in the application, so an id exists before the row is flushed. */
export abstract class BaseEntity<Optional extends string = never> {
  /** Properties with defaults, optional when creating rows. */
  [OptionalProps]?: 'id' | 'createdAt' | 'updatedAt' | Optional;

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: rowWrittenAt })
  updatedAt: Date = new Date();
}
