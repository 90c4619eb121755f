import { Field, ID, Int, ObjectType } from 'type-graphql';
import { PaymentLimitScope } from '../entities/enums';
import './enums';

/** The fields a limit reached shows, to the payer (as a payment outcome) and to admins. */
@ObjectType({ description: 'A payment attempt limit reached: paying is refused until `resetsAt` or a lift.' })
export class PaymentAttemptBlock {
  @Field(() => PaymentLimitScope)
  scope!: PaymentLimitScope;

  @Field()
  userId!: string;

  @Field(() => ID, { nullable: true, description: 'The invoice, for scope INVOICE.' })
  invoiceId!: string | null;

  @Field(() => Int, { description: 'Failed attempts counted in the window (since the last lift).' })
  failedAttempts!: number;

  @Field(() => Int)
  limit!: number;

  @Field(() => Int)
  windowSeconds!: number;

  @Field({ description: 'When the oldest counted failure leaves the window and paying is allowed again.' })
  resetsAt!: Date;
}

@ObjectType('PaymentLimitLift', {
  description: 'An admin lifted a payment attempt limit; failed attempts before it no longer count.',
})
export class PaymentLimitLiftType {
  @Field(() => ID)
  id!: string;

  @Field(() => PaymentLimitScope)
  scope!: PaymentLimitScope;

  @Field()
  userId!: string;

  @Field(() => ID, { nullable: true })
  invoiceId!: string | null;

  @Field({ description: 'The admin who lifted it.' })
  liftedBy!: string;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field()
  liftedAt!: Date;
}
