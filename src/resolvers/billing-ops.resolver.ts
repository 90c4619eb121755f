import { Arg, Args, Ctx, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import {
  billingRunFor,
  billingRunsFor,
  reconcileFor,
  startBillingRun,
  watchBillingRun,
} from '../services/billing-runs/billing-ops.service';
import type { BillingRunDeps } from '../services/billing-runs/billing-run.service';
import type { BillingRunProgress } from '../services/billing-runs/get-billing-run.service';
import {
  BillingRunConnection,
  BillingRunType,
  BillingRunsArgs,
  ReconciliationReportType,
  RunBillingResult,
} from '../schema/billing-ops.types';
import { PeriodNotEnded } from '../schema/invoice.types';
import type { GraphQLContext } from './context';

const deps = (ctx: GraphQLContext): BillingRunDeps => ({
  em: ctx.em,
  gateway: ctx.gateway,
  config: ctx.config,
  log: ctx.log,
  clock: ctx.clock,
});

const toBillingRun = (run: BillingRunProgress): BillingRunType => Object.assign(new BillingRunType(), run);

/** Operator surface of billing runs and reconciliation (admins; `billingRun` also for services). */
@Resolver()
export class BillingOpsResolver {
  @Query(() => BillingRunType, { nullable: true, description: "A period's billing run with live progress." })
  async billingRun(
    @Arg('period', { description: 'YYYY-MM' }) period: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BillingRunType | null> {
    const run = await billingRunFor(ctx.em, ctx.caller, period);
    return run ? toBillingRun(run) : null;
  }

  @Query(() => BillingRunConnection, { description: 'Billing runs, newest period first, with their progress.' })
  async billingRuns(
    @Args(() => BillingRunsArgs) args: BillingRunsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BillingRunConnection> {
    const page = await billingRunsFor(ctx.em, ctx.caller, args);
    return {
      edges: page.runs.map((run) => ({ cursor: run.period, node: toBillingRun(run) })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.runs.at(-1)?.period ?? null },
      totalCount: page.totalCount,
    };
  }

  @Subscription(() => BillingRunType, {
    description:
      "A period's billing run as it progresses, from whichever instance runs it: first its progress now, then every " +
      'change (counts, status, failures) until you unsubscribe; a re-run shows too. Nothing comes while the period ' +
      'has no run: its first event is the run starting. Admins and services.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { period: string }, GraphQLContext>) =>
      watchBillingRun(context.billingRuns, context.caller, args.period),
  })
  billingRunProgressed(
    @Root() run: BillingRunProgress,
    @Arg('period', { description: 'YYYY-MM' }) _period: string,
  ): BillingRunType {
    return toBillingRun(run);
  }

  @Mutation(() => RunBillingResult, {
    description:
      "Starts (or resumes, or re-runs to retry failures) a period's billing run; invoices in the background " +
      'unless wait is true. Idempotent: nobody is invoiced twice.',
  })
  async runBilling(
    @Arg('period', { description: 'YYYY-MM' }) period: string,
    @Arg('wait', () => Boolean, { nullable: true, defaultValue: false }) wait: boolean,
    @Ctx() ctx: GraphQLContext,
  ): Promise<typeof RunBillingResult> {
    const outcome = await startBillingRun(deps(ctx), ctx.caller, { period, wait });
    if (outcome.kind === 'period_not_ended') {
      return Object.assign(new PeriodNotEnded(), {
        code: 'PERIOD_NOT_ENDED',
        message: `Period ${outcome.period} has not ended yet`,
        period: outcome.period,
      });
    }
    return toBillingRun(outcome.run);
  }

  @Mutation(() => ReconciliationReportType, {
    description: 'Compares the invoices of a period with Stripe and applies what was missed (forward-only).',
  })
  async reconcile(
    @Arg('period', { description: 'YYYY-MM' }) period: string,
    @Arg('dryRun', () => Boolean, { nullable: true, defaultValue: false }) dryRun: boolean,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ReconciliationReportType> {
    return reconcileFor(deps(ctx), ctx.caller, { period, dryRun });
  }
}
