import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** The bucket of usage not yet billed on any invoice (a real invoice id otherwise). */
export const UNBILLED_BUCKET = '00000000-0000-0000-0000-000000000000';

/**
 * A customer's usage of one metric on one UTC day, per billing bucket (the invoice its records are billed on, or
 * `UNBILLED_BUCKET`): maintained in the same transaction as every write to `usage_records` (ingestion adds to it,
 * billing and voiding rebuild the buckets they move), so previews and invoices read these rows instead of the
 * events. Derived data: no foreign keys, rebuildable from `usage_records` at any time.
 */
@Entity({ tableName: 'usage_rollups' })
export class UsageRollup {
  @PrimaryKey({ type: 'uuid' })
  customerId!: string;

  @PrimaryKey({ type: 'uuid' })
  metricId!: string;

  @PrimaryKey({ type: 'date' })
  day!: string;

  @PrimaryKey({ type: 'uuid' })
  bucket!: string;

  @Property({ type: 'bigint' })
  events!: string;

  @Property({ type: 'decimal', precision: 30, scale: 12 })
  quantitySum!: string;

  @Property({ type: 'decimal', precision: 30, scale: 12 })
  quantityMax!: string;

  /** The day's earliest event: prices are looked up at it, and segments are ordered by it. */
  @Property({ type: 'timestamptz' })
  firstAt!: Date;
}
