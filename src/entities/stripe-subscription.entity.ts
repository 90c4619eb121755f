import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { rowWrittenAt } from './base.entity';
import { Customer } from './customer.entity';

/** A mirror of a Stripe subscription, kept current by `customer.subscription.*` webhooks. */
@Entity({ tableName: 'stripe_subscriptions' })
@Index({ properties: ['stripeCustomerId'] })
export class StripeSubscription {
  /** Stripe's subscription id (`sub_…`). */
  @PrimaryKey({ type: 'text' })
  id!: string;

  @ManyToOne(() => Customer, { nullable: true, deleteRule: 'set null' })
  customer?: Customer | null;

  @Property({ type: 'text' })
  stripeCustomerId!: string;

  @Property({ type: 'text' })
  status!: string;

  @Property({ type: 'timestamptz', nullable: true })
  currentPeriodStart?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  currentPeriodEnd?: Date | null;

  @Property({ type: 'boolean', default: false })
  cancelAtPeriodEnd: boolean = false;

  @Property({ type: 'timestamptz', nullable: true })
  canceledAt?: Date | null;

  @Property({ type: 'json', nullable: true })
  items?: unknown[] | null;

  @Property({ type: 'json', nullable: true })
  metadata?: Record<string, string> | null;

  /** `created` of the last event applied; older events are ignored. */
  @Property({ type: 'timestamptz', nullable: true })
  lastEventAt?: Date | null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: rowWrittenAt })
  updatedAt: Date = new Date();
}
