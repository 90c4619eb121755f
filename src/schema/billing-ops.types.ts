import { ArgsType, Field, ID, Int, ObjectType, createUnionType } from 'type-graphql';
import { PageInfo, PeriodNotEnded } from './invoice.types';

@ObjectType('BillingRunFailure', {
  description: 'A customer whose invoice failed in a billing run (or waits for a retry).',
})
export class BillingRunFailureType {
  @Field()
  userId!: string;

  @Field(() => ID)
  customerId!: string;

  @Field({ description: '`failed`, or `pending` while a retry is scheduled.' })
  status!: string;

  @Field(() => Int)
  attempts!: number;

  @Field()
  error!: string;
}

@ObjectType('BillingRun', { description: "A period's billing run and its live progress." })
export class BillingRunType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'YYYY-MM' })
  period!: string;

  @Field({ description: '`running` or `completed`.' })
  status!: string;

  @Field({
    description: 'What started it, or last reopened it to bill what appeared since (a re-run): scheduler, cli or api.',
  })
  trigger!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Who: the user id of the admin whose runBilling call started or reopened it; null otherwise.',
  })
  triggeredBy!: string | null;

  @Field({ description: 'When it was started, or last reopened.' })
  startedAt!: Date;

  @Field()
  heartbeatAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => Int, { description: 'Customers in the run.' })
  total!: number;

  @Field(() => Int)
  pending!: number;

  @Field(() => Int)
  processing!: number;

  @Field(() => Int)
  done!: number;

  @Field(() => Int)
  failed!: number;

  @Field(() => Int, { description: 'Customers with nothing to charge.' })
  skipped!: number;

  @Field(() => [BillingRunFailureType])
  failures!: BillingRunFailureType[];
}

@ObjectType()
export class BillingRunEdge {
  @Field({ description: "The run's period: pass it as `after` for the runs before it." })
  cursor!: string;

  @Field(() => BillingRunType)
  node!: BillingRunType;
}

@ObjectType({ description: 'Billing runs, newest period first.' })
export class BillingRunConnection {
  @Field(() => [BillingRunEdge])
  edges!: BillingRunEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ArgsType()
export class BillingRunsArgs {
  @Field(() => Int, { nullable: true, defaultValue: 12, description: '1–50.' })
  first?: number | null;

  @Field(() => String, { nullable: true, description: 'A period (YYYY-MM): the runs of earlier periods.' })
  after?: string | null;
}

export const RunBillingResult = createUnionType({
  name: 'RunBillingResult',
  types: () => [BillingRunType, PeriodNotEnded] as const,
});

@ObjectType('ReconciliationChange', { description: 'Something reconciliation applied (or would apply in a dry run).' })
export class ReconciliationChangeType {
  @Field(() => ID)
  invoiceId!: string;

  @Field()
  number!: string;

  @Field(() => String, { nullable: true })
  stripeInvoiceId!: string | null;

  @Field({
    description:
      '`status`, `amount_paid`, `resume` (a DRAFT stuck half-way), `payment_timeout` (a PROCESSING payment that never ' +
      'reached Stripe, released as PAYMENT_FAILED), `send` (an unsent open invoice e-mailed now), `sent_at` (Stripe ' +
      'had e-mailed it; recorded) or `reissue` (its payable Stripe invoice did not total ours: voided and the period ' +
      'invoiced again).',
  })
  action!: string;

  @Field({ description: 'Status, amount paid in minor units, `unsent`, or the reissued invoice number, before.' })
  from!: string;

  @Field({ description: 'Status, amount paid in minor units, `sent`, or the new invoice number, after.' })
  to!: string;

  @Field({ description: 'False in a dry run.' })
  applied!: boolean;
}

@ObjectType('ReconciliationOrphan', { description: 'A Stripe invoice with our metadata and no local row.' })
export class ReconciliationOrphanType {
  @Field()
  stripeInvoiceId!: string;

  @Field(() => String, { nullable: true })
  ourInvoiceId!: string | null;

  @Field(() => String, { nullable: true })
  number!: string | null;

  @Field(() => String, { nullable: true })
  status!: string | null;

  @Field(() => Int)
  amountDueMinor!: number;

  @Field()
  currency!: string;
}

@ObjectType('ReconciliationIssue')
export class ReconciliationIssueType {
  @Field(() => String, { description: 'Empty when the issue is not about one invoice.' })
  invoiceId!: string;

  @Field()
  number!: string;

  @Field()
  message!: string;
}

@ObjectType('ReconciliationReport')
export class ReconciliationReportType {
  @Field()
  period!: string;

  @Field()
  dryRun!: boolean;

  @Field(() => Int, { description: 'Local invoices compared.' })
  checked!: number;

  @Field(() => [ReconciliationChangeType])
  changes!: ReconciliationChangeType[];

  @Field(() => [ReconciliationOrphanType])
  orphans!: ReconciliationOrphanType[];

  @Field(() => [ReconciliationIssueType], { description: 'Differences that need a person.' })
  warnings!: ReconciliationIssueType[];

  @Field(() => [ReconciliationIssueType], { description: 'Invoices that could not be checked; run again.' })
  errors!: ReconciliationIssueType[];
}
