import { Entity, Enum, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BillingRunStatus } from './enums';

/**
 * The monthly billing run of one period. The unique period makes the run claimable once (`INSERT … ON CONFLICT DO
 * NOTHING`); its work lives in `billing_run_items`, which any instance may claim with `FOR UPDATE SKIP LOCKED`.
 * Totals are refreshed as items finish; `getBillingRun` counts the items themselves for live progress.
 */
@Entity({ tableName: 'billing_runs' })
export class BillingRun extends BaseEntity<
  | 'status'
  | 'total'
  | 'done'
  | 'failed'
  | 'skipped'
  | 'startedAt'
  | 'heartbeatAt'
  | 'finishedAt'
  | 'trigger'
  | 'triggeredBy'
> {
  /** Billing period `YYYY-MM`. */
  @Property({ type: 'character', length: 7 })
  @Unique()
  period!: string;

  @Enum({ items: () => BillingRunStatus, nativeEnumName: 'billing_run_status' })
  status: BillingRunStatus = BillingRunStatus.RUNNING;

  /** What started it, or last reopened it to bill what appeared since: `scheduler`, `cli` or `api`. */
  @Property({ type: 'text', default: 'api' })
  trigger: string = 'api';

  /** Who: the AgentHub user id of the admin whose API call started it (null for the scheduler and the CLI). */
  @Property({ type: 'text', nullable: true })
  triggeredBy?: string | null;

  @Property({ type: 'integer', default: 0 })
  total: number = 0;

  @Property({ type: 'integer', default: 0 })
  done: number = 0;

  @Property({ type: 'integer', default: 0 })
  failed: number = 0;

  @Property({ type: 'integer', default: 0 })
  skipped: number = 0;

  /** When it was started, or last reopened. */
  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  startedAt: Date = new Date();

  /** Last sign of life of any instance working on the run. */
  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  heartbeatAt: Date = new Date();

  @Property({ type: 'timestamptz', nullable: true })
  finishedAt?: Date | null;
}
