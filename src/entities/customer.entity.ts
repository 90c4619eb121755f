import { Entity, Property, Unique } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { BaseEntity } from './base.entity';

/** An AgentHub user as a billing customer; created the first time the user is seen. */
@ObjectType({ description: 'A billing customer: one AgentHub user.' })
@Entity({ tableName: 'customers' })
export class Customer extends BaseEntity {
  @Field(() => ID)
  declare id: string;

  /** The AgentHub user id (the JWT `sub`). */
  @Field({ name: 'userId', description: 'The AgentHub user id (JWT sub).' })
  @Property({ type: 'text' })
  @Unique()
  externalUserId!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  name?: string | null;

  /** Set once the Stripe customer exists; never changes afterwards. */
  @Property({ type: 'text', nullable: true })
  @Unique()
  stripeCustomerId?: string | null;

  /**
   * When we first asked Stripe to create this customer. Set while `stripeCustomerId` is still null, it means an
   * earlier attempt may have made a Stripe customer whose id we never stored: the next attempt looks for it (by our
   * id in its metadata) before creating one, since Stripe forgets an idempotency key after 24 hours.
   */
  @Property({ type: 'timestamptz', nullable: true })
  stripeCreateRequestedAt?: Date | null;

  /** Billing currency for this customer; null means the configured default. */
  @Property({ type: 'character', length: 3, nullable: true })
  currency?: string | null;

  @Field()
  declare createdAt: Date;
}
