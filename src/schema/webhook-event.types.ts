import { ArgsType, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { WebhookEventStatus } from '../entities/enums';
import { PageInfo } from './invoice.types';

registerEnumType(WebhookEventStatus, { name: 'WebhookEventStatus' });

@ObjectType('WebhookEvent', { description: 'A Stripe event as received and processed (admin).' })
export class WebhookEventType {
  @Field(() => ID)
  id!: string;

  @Field()
  type!: string;

  @Field(() => WebhookEventStatus)
  status!: WebhookEventStatus;

  @Field(() => Int)
  attempts!: number;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => String, { nullable: true, description: 'Id of the Stripe object the event is about.' })
  objectId!: string | null;

  @Field()
  livemode!: boolean;

  @Field({ description: "Stripe's creation time of the event." })
  stripeCreatedAt!: Date;

  @Field()
  receivedAt!: Date;

  @Field(() => Date, { nullable: true })
  processedAt!: Date | null;

  @Field()
  nextAttemptAt!: Date;

  @Field(() => GraphQLJSONObject)
  payload!: Record<string, unknown>;
}

@ObjectType()
export class WebhookEventEdge {
  @Field()
  cursor!: string;

  @Field(() => WebhookEventType)
  node!: WebhookEventType;
}

@ObjectType()
export class WebhookEventConnection {
  @Field(() => [WebhookEventEdge])
  edges!: WebhookEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ArgsType()
export class WebhookEventsArgs {
  @Field(() => String, { nullable: true, description: 'e.g. "invoice.paid" or "invoice.*".' })
  type?: string | null;

  @Field(() => WebhookEventStatus, { nullable: true })
  status?: WebhookEventStatus | null;

  @Field(() => Date, { nullable: true })
  since?: Date | null;

  @Field(() => Date, { nullable: true })
  until?: Date | null;

  @Field(() => Int, { nullable: true, defaultValue: 20 })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}
