import { Arg, Args, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { WebhookEndpoint } from '../entities';
import type { DeliveryRecord } from '../services/outgoing-webhooks/delivery-store';
import { OUTGOING_EVENT_TYPES } from '../services/outgoing-webhooks/event-types';
import type { EndpointDeps, EndpointWithSecret } from '../services/outgoing-webhooks/webhook-endpoints.service';
import {
  createWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookDeliveries,
  replayWebhookDelivery,
  rotateWebhookEndpointSecret,
  setWebhookEndpointEnabled,
  updateWebhookEndpoint,
  webhookEndpointView,
} from '../services/outgoing-webhooks/webhook-endpoints.service';
import {
  WebhookDeliveriesArgs,
  WebhookDeliveryType,
  WebhookEndpointInput,
  WebhookEndpointSecretType,
  WebhookEndpointType,
} from '../schema/outgoing-webhook.types';
import type { GraphQLContext } from './context';

/** GraphQL's `WebhookEndpoint` is the use cases' view of it, field for field. */
export const toWebhookEndpoint = (endpoint: WebhookEndpoint, now: number): WebhookEndpointType =>
  webhookEndpointView(endpoint, now);

const toDelivery = (record: DeliveryRecord): WebhookDeliveryType => record;

function deps(ctx: GraphQLContext): EndpointDeps {
  return {
    em: ctx.em,
    caller: ctx.caller,
    allowPrivateHosts: ctx.config.outgoingWebhooks.allowPrivateHosts,
    secretBox: ctx.secretBox,
    now: new Date(ctx.clock.now()),
  };
}

function withSecret(result: EndpointWithSecret, ctx: GraphQLContext): WebhookEndpointSecretType {
  return { endpoint: toWebhookEndpoint(result.endpoint, ctx.clock.now()), secret: result.secret };
}

@Resolver()
export class OutgoingWebhooksResolver {
  @Query(() => [String], { description: 'Every event type an endpoint can subscribe to.' })
  outgoingWebhookEventTypes(): string[] {
    return [...OUTGOING_EVENT_TYPES];
  }

  @Query(() => [WebhookEndpointType], { description: 'Registered outgoing webhook endpoints (admin).' })
  async webhookEndpoints(@Ctx() ctx: GraphQLContext): Promise<WebhookEndpointType[]> {
    return (await listWebhookEndpoints(ctx)).map((e) => toWebhookEndpoint(e, ctx.clock.now()));
  }

  @Query(() => WebhookEndpointType, { description: 'One outgoing webhook endpoint (admin).' })
  async webhookEndpoint(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpointType> {
    return toWebhookEndpoint(await getWebhookEndpoint(ctx, id), ctx.clock.now());
  }

  @Query(() => [WebhookDeliveryType], {
    description: "An endpoint's deliveries, newest first, with their log (admin).",
  })
  async webhookDeliveries(
    @Args(() => WebhookDeliveriesArgs) args: WebhookDeliveriesArgs,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryType[]> {
    return (await listWebhookDeliveries(ctx, args.endpointId, args)).map(toDelivery);
  }

  @Mutation(() => WebhookEndpointSecretType, { description: 'Registers an endpoint; answers its signing secret once.' })
  async createWebhookEndpoint(
    @Arg('input', () => WebhookEndpointInput) input: WebhookEndpointInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointSecretType> {
    return withSecret(await createWebhookEndpoint(deps(ctx), input), ctx);
  }

  @Mutation(() => WebhookEndpointType, { description: "Changes an endpoint's URL, event types, description or rate." })
  async updateWebhookEndpoint(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => WebhookEndpointInput) input: WebhookEndpointInput,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointType> {
    return toWebhookEndpoint(await updateWebhookEndpoint(deps(ctx), id, input), ctx.clock.now());
  }

  @Mutation(() => WebhookEndpointSecretType, {
    description: 'A new signing secret; the old ones keep signing for overlapHours (default 24, 0: end now).',
  })
  async rotateWebhookEndpointSecret(
    @Arg('id', () => ID) id: string,
    @Arg('overlapHours', () => Int, { nullable: true }) overlapHours: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointSecretType> {
    return withSecret(await rotateWebhookEndpointSecret(deps(ctx), id, overlapHours), ctx);
  }

  @Mutation(() => WebhookEndpointType, { description: 'Stops sending to an endpoint (events still queue for it).' })
  async disableWebhookEndpoint(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointType> {
    return toWebhookEndpoint(await setWebhookEndpointEnabled(deps(ctx), id, false, reason), ctx.clock.now());
  }

  @Mutation(() => WebhookEndpointType, {
    description: 'Sends to an endpoint again, its failed deliveries first (in order per invoice).',
  })
  async enableWebhookEndpoint(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointType> {
    return toWebhookEndpoint(await setWebhookEndpointEnabled(deps(ctx), id, true), ctx.clock.now());
  }

  @Mutation(() => WebhookDeliveryType, { description: 'Sends one delivery again (same webhook-id; its log is kept).' })
  async replayWebhookDelivery(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDeliveryType> {
    return toDelivery(await replayWebhookDelivery(deps(ctx), id));
  }

  @Mutation(() => Int, {
    description:
      "Sends again an endpoint's deliveries of the events that occurred in [from, to) (same webhook-ids, logs kept, in order per invoice); answers how many were queued. One in flight counts: it is sent again once its attempt ends.",
  })
  async replayWebhookDeliveries(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date) to: Date,
    @Ctx() ctx: GraphQLContext,
  ): Promise<number> {
    return replayWebhookDeliveries(deps(ctx), endpointId, { from, to });
  }
}
