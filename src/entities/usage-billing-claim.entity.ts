import { Entity, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Invoice } from './invoice.entity';

/**
 * Which invoice billed a customer's events of one period: those with ids in `[firstId, lastId]` (ids of other
 * customers or periods in the range are not its). Billing writes one claim per period it takes usage from (the
 * invoice's own, and earlier invoiced periods with late usage) instead of a write on every event; voiding the invoice
 * deletes its claims. An event no claim covers is unbilled. The day rollups carry the same split (`bucket`).
 */
@Entity({ tableName: 'usage_billing_claims' })
export class UsageBillingClaim {
  @PrimaryKey({ type: 'uuid' })
  customerId!: string;

  @PrimaryKey({ type: 'timestamptz' })
  periodStart!: Date;

  @PrimaryKey({ type: 'bigint' })
  firstId!: string;

  @Property({ type: 'timestamptz' })
  periodEnd!: Date;

  @Property({ type: 'bigint' })
  lastId!: string;

  @ManyToOne(() => Invoice, { deleteRule: 'cascade' })
  @Index()
  invoice!: Invoice;
}
