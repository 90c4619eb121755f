import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { liftPaymentAttemptLimit, listPaymentAttemptBlocks } from '../services/payments/payment-limits-admin.service';
import type { PaymentLimitsDeps } from '../services/payments/payment-limits-admin.service';
import { PaymentAttemptBlock, PaymentLimitLiftType } from '../schema/payment-limit.types';
import type { GraphQLContext } from './context';

const deps = (ctx: GraphQLContext): PaymentLimitsDeps => ({
  em: ctx.em,
  config: ctx.config,
  now: new Date(ctx.clock.now()),
  log: ctx.log,
});

/** Admins see the payment attempt limits in force (card testing) and lift them. */
@Resolver()
export class PaymentLimitsResolver {
  @Query(() => [PaymentAttemptBlock], {
    description: 'Admins: the payment attempt limits reached now (per invoice, then per user), soonest reset first.',
  })
  async paymentAttemptBlocks(
    @Arg('userId', () => String, { nullable: true }) userId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PaymentAttemptBlock[]> {
    const blocks = await listPaymentAttemptBlocks(deps(ctx), ctx.caller, { userId });
    return blocks.map((block) => Object.assign(new PaymentAttemptBlock(), block));
  }

  @Mutation(() => PaymentLimitLiftType, {
    description:
      'Admins: lifts the payment attempt limit of one invoice (invoiceId) or of a user and all of their invoices ' +
      '(userId): earlier failed attempts stop counting. Records who lifted it and why.',
  })
  async liftPaymentAttemptLimit(
    @Arg('invoiceId', () => ID, { nullable: true }) invoiceId: string | null,
    @Arg('userId', () => String, { nullable: true }) userId: string | null,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PaymentLimitLiftType> {
    const lift = await liftPaymentAttemptLimit(deps(ctx), ctx.caller, { invoiceId, userId, reason });
    return Object.assign(new PaymentLimitLiftType(), lift);
  }
}
