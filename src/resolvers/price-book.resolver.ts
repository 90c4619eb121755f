import { Arg, Args, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { BillableMetric } from '../entities';
import { createBillableMetric, listBillableMetrics } from '../services/usage/billable-metrics.service';
import { listPrices, setPrice } from '../services/usage/price-book.service';
import { CreateBillableMetricInput, PriceType, PricesArgs, SetPriceInput } from '../schema/price.types';
import type { GraphQLContext } from './context';
import { toPrice } from './mappers';

@Resolver()
export class PriceBookResolver {
  @Query(() => [BillableMetric], { description: 'The metric catalogue.' })
  billableMetrics(@Ctx() ctx: GraphQLContext): Promise<BillableMetric[]> {
    return listBillableMetrics(ctx.em);
  }

  @Mutation(() => BillableMetric, { description: 'Adds a metric to the catalogue (admin).' })
  createBillableMetric(
    @Arg('input', () => CreateBillableMetricInput) input: CreateBillableMetricInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BillableMetric> {
    return createBillableMetric(ctx.em, ctx.caller, input);
  }

  @Query(() => [PriceType], { description: 'The price book (admin): versions in force and scheduled, or all.' })
  async prices(@Args(() => PricesArgs) args: PricesArgs, @Ctx() ctx: GraphQLContext): Promise<PriceType[]> {
    return (await listPrices(ctx.em, ctx.caller, args)).map(toPrice);
  }

  @Mutation(() => PriceType, {
    description: 'Adds a price version (admin); the version in force is closed at its effectiveFrom.',
  })
  async setPrice(
    @Arg('input', () => SetPriceInput) input: SetPriceInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PriceType> {
    const tiers = input.tiers?.map((t) => ({
      upTo: t.upTo ?? null,
      unitAmount: t.unitAmount,
      ...(t.flatAmount ? { flatAmount: t.flatAmount } : {}),
    }));
    return toPrice(await setPrice(ctx.em, ctx.caller, { ...input, tiers }));
  }
}
