import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DunningState } from '../entities/enums';
import { InvoiceType } from './invoice.types';

registerEnumType(DunningState, {
  name: 'DunningState',
  description:
    'ACTIVE: steps to come; RECOVERED: paid; CANCELED: voided, refunded or written off; EXHAUSTED: every step ran.',
});

@ObjectType('InvoiceDunning', {
  description: 'Reminders and payment retries of an unpaid invoice, on the days the dunning policy sets.',
  simpleResolvers: true,
})
export class InvoiceDunningType {
  @Field(() => Int, { description: 'Steps done (0 before the first).' })
  step!: number;

  @Field(() => DunningState)
  state!: DunningState;

  @Field({ description: 'When dunning started: the first failed payment, or the due date.' })
  startedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the next step is due; null once dunning has ended.' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastAttemptAt!: Date | null;

  @Field(() => String, {
    nullable: true,
    description: 'What the last step did: "declined: insufficient_funds", "paid", "…; marked uncollectible".',
  })
  lastOutcome!: string | null;
}

@ObjectType('DunningInvoice', { description: 'An invoice in dunning, for admins.', simpleResolvers: true })
export class DunningInvoiceType {
  @Field(() => InvoiceType)
  invoice!: InvoiceType;

  @Field(() => InvoiceDunningType)
  dunning!: InvoiceDunningType;
}
