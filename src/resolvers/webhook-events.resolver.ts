import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { WebhookEvent } from '../entities';
import {
  getWebhookEvent,
  listWebhookEvents,
  replayWebhookEvent,
} from '../services/stripe-events/webhook-events.service';
import { WebhookEventConnection, WebhookEventType, WebhookEventsArgs } from '../schema/webhook-event.types';
import type { GraphQLContext } from './context';

function toWebhookEvent(event: WebhookEvent): WebhookEventType {
  return {
    id: event.id,
    type: event.type,
    status: event.status,
    attempts: event.attempts,
    lastError: event.lastError ?? null,
    objectId: event.objectId ?? null,
    livemode: event.livemode,
    stripeCreatedAt: event.stripeCreatedAt,
    receivedAt: event.receivedAt,
    processedAt: event.processedAt ?? null,
    nextAttemptAt: event.nextAttemptAt,
    payload: event.payload,
  };
}

@Resolver()
export class WebhookEventsResolver {
  @Query(() => WebhookEventConnection, { description: 'Stored Stripe events, newest first (admin).' })
  async webhookEvents(
    @Args(() => WebhookEventsArgs) args: WebhookEventsArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEventConnection> {
    const page = await listWebhookEvents(ctx.em, ctx.caller, args);
    return {
      edges: page.events.map((event, i) => ({ cursor: page.cursors[i], node: toWebhookEvent(event) })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.cursors.at(-1) ?? null },
      totalCount: page.totalCount,
    };
  }

  @Query(() => WebhookEventType, { description: 'One stored Stripe event (admin): follow a replay to its outcome.' })
  async webhookEvent(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEventType> {
    return toWebhookEvent(await getWebhookEvent(ctx.em, ctx.caller, id));
  }

  @Mutation(() => WebhookEventType, { description: 'Processes a stored event again (admin).' })
  async replayWebhookEvent(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEventType> {
    return toWebhookEvent(await replayWebhookEvent(ctx.em, ctx.caller, id));
  }
}
