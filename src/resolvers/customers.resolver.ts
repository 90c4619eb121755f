import { Args, Ctx, Query, Resolver } from 'type-graphql';
import { listCustomers } from '../services/customers/list-customers.service';
import { CustomerConnection, CustomersArgs } from '../schema/customer.types';
import type { GraphQLContext } from './context';

@Resolver()
export class CustomersResolver {
  @Query(() => CustomerConnection, { description: 'Billing customers by user id, A to Z (admin).' })
  async customers(
    @Args(() => CustomersArgs) args: CustomersArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CustomerConnection> {
    const page = await listCustomers(ctx.em, ctx.caller, args);
    return {
      edges: page.customers.map((node, i) => ({ cursor: page.cursors[i], node })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.cursors.at(-1) ?? null },
      totalCount: page.totalCount,
    };
  }
}
