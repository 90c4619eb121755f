import { Ctx, Query, Resolver } from 'type-graphql';
import { Customer } from '../entities';
import { getCurrentCustomer } from '../services/customers/get-current-customer.service';
import type { GraphQLContext } from './context';

@Resolver()
export class MeResolver {
  @Query(() => Customer, { description: "The caller's billing customer (created on first sight)." })
  me(@Ctx() ctx: GraphQLContext): Promise<Customer> {
    return getCurrentCustomer(ctx.em, ctx.caller);
  }
}
