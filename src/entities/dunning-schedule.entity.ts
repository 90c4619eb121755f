import { Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { DunningState } from './enums';
import { Invoice } from './invoice.entity';

/**
 * One unpaid invoice in dunning: which step comes next and when. Steps are claimed with `FOR UPDATE SKIP LOCKED`
 * and a lease (`leaseUntil`, `leasedBy`), so one instance runs each step; a lease that expires (its instance died)
 * lets another instance resume the step, whose Stripe writes carry the step in their idempotency keys.
 */
@Entity({ tableName: 'dunning_schedules' })
@Unique({ properties: ['invoice'] })
@Index({ properties: ['state', 'nextAttemptAt'] })
export class DunningSchedule extends BaseEntity<'state' | 'step' | 'remindedStep'> {
  @ManyToOne(() => Invoice, { deleteRule: 'cascade' })
  invoice!: Invoice;

  @Enum({ items: () => DunningState, nativeEnumName: 'dunning_state' })
  state: DunningState = DunningState.ACTIVE;

  /** When dunning started (the first failed payment, or the due date): retry days count from here. */
  @Property({ type: 'timestamptz' })
  startedAt!: Date;

  /** Steps finished (0 before the first). Step n runs on `startedAt` + the n-th retry day. */
  @Property({ type: 'integer', default: 0 })
  step: number = 0;

  /** When the next step is due; null once dunning has ended. */
  @Property({ type: 'timestamptz', nullable: true })
  nextAttemptAt?: Date | null;

  /** When the last step ran. */
  @Property({ type: 'timestamptz', nullable: true })
  lastAttemptAt?: Date | null;

  /** What the last step did (`declined: card_declined`, `paid`, `no payment method`…). */
  @Property({ type: 'text', nullable: true })
  lastOutcome?: string | null;

  /** The last step whose reminder Stripe has sent (a resumed step does not send it again). */
  @Property({ type: 'integer', default: 0 })
  remindedStep: number = 0;

  @Property({ type: 'timestamptz', nullable: true })
  leaseUntil?: Date | null;

  /** The instance holding the lease: only it may finish the step. */
  @Property({ type: 'text', nullable: true })
  leasedBy?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  endedAt?: Date | null;
}
