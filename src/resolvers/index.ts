import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { NonEmptyArray } from 'type-graphql';
import '../schema/enums';
import { BillingOpsResolver } from './billing-ops.resolver';
import { BillingStatsResolver } from './billing-stats.resolver';
import { CreditNoteResolver } from './credit-note.resolver';
import { CustomersResolver } from './customers.resolver';
import { DunningResolver } from './dunning.resolver';
import { InvoiceResolver } from './invoice.resolver';
import { MeResolver } from './me.resolver';
import { OutgoingWebhooksResolver } from './outgoing-webhooks.resolver';
import { PaymentLimitsResolver } from './payment-limits.resolver';
import { PriceBookResolver } from './price-book.resolver';
import { UsageResolver } from './usage.resolver';
import { WebhookEventsResolver } from './webhook-events.resolver';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [
  MeResolver,
  CustomersResolver,
  UsageResolver,
  PriceBookResolver,
  InvoiceResolver,
  CreditNoteResolver,
  WebhookEventsResolver,
  OutgoingWebhooksResolver,
  BillingOpsResolver,
  PaymentLimitsResolver,
  BillingStatsResolver,
  DunningResolver,
];

/** The executable schema, built from code. `src/schema/schema.graphql` is its committed print. */
export function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    // Inputs are checked by scalars, limits and the services; no class-validator decorators are used, so none runs.
    validate: false,
    // Subscriptions bring their own source (StatusChangeHub, fed by Postgres NOTIFY); type-graphql's topic-based
    // PubSub is never used, but buildSchema insists on one.
    pubSub: {
      publish: () => undefined,
      subscribe: () => {
        throw new Error('Topic subscriptions are not used; see StatusChangeHub');
      },
    },
  });
}
