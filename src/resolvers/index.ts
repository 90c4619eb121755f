import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { NonEmptyArray } from 'type-graphql';
import '../schema/enums';
import { MeResolver } from './me.resolver';
import { PriceBookResolver } from './price-book.resolver';
import { UsageResolver } from './usage.resolver';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [MeResolver, UsageResolver, PriceBookResolver];

/** The executable schema, built from code. `src/schema/schema.graphql` is its committed print. */
export function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    validate: { forbidUnknownValues: false },
  });
}
