import { ArgsType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { OutgoingDeliveryStatus, WebhookEndpointStatus } from '../entities/enums';

registerEnumType(WebhookEndpointStatus, {
  name: 'WebhookEndpointStatus',
  description: 'active, or disabled (by an admin, or automatically after failing for the whole retry window).',
});
registerEnumType(OutgoingDeliveryStatus, { name: 'WebhookDeliveryStatus' });

@ObjectType('WebhookSigningSecret', { description: 'A signing secret of an endpoint (its value is shown only once).' })
export class WebhookSigningSecretType {
  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it stops signing (the end of a rotation); null: current.' })
  expiresAt!: Date | null;
}

@ObjectType('WebhookEndpoint', { description: 'A receiver of outgoing webhooks (Standard Webhooks), admin only.' })
export class WebhookEndpointType {
  @Field(() => ID)
  id!: string;

  @Field()
  url!: string;

  @Field(() => [String], { description: 'The event types sent to it (see `outgoingWebhookEventTypes`).' })
  eventTypes!: string[];

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => WebhookEndpointStatus)
  status!: WebhookEndpointStatus;

  @Field(() => String, { nullable: true, description: 'Why it is disabled.' })
  disabledReason!: string | null;

  @Field(() => Date, { nullable: true })
  disabledAt!: Date | null;

  @Field(() => Int, { description: 'Deliveries per second to it, across every instance.' })
  ratePerSecond!: number;

  @Field(() => [WebhookSigningSecretType], { description: 'The secrets that sign now (several during a rotation).' })
  signingSecrets!: WebhookSigningSecretType[];

  @Field()
  createdAt!: Date;
}

@ObjectType('WebhookEndpointSecret', {
  description: 'An endpoint and its new signing secret (`whsec_…`): store it now, it is never shown again.',
})
export class WebhookEndpointSecretType {
  @Field(() => WebhookEndpointType)
  endpoint!: WebhookEndpointType;

  @Field()
  secret!: string;
}

@ObjectType('WebhookDeliveryAttempt', { description: 'One POST of a delivery: what came back, how long it took.' })
export class WebhookDeliveryAttemptType {
  @Field(() => Int)
  attempt!: number;

  @Field(() => Int, { nullable: true, description: "The receiver's HTTP status; null when none came." })
  statusCode!: number | null;

  @Field(() => Int)
  durationMs!: number;

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field()
  attemptedAt!: Date;
}

@ObjectType('WebhookDelivery', { description: 'One outgoing event to one endpoint, with its delivery log.' })
export class WebhookDeliveryType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  endpointId!: string;

  @Field({ description: 'The `webhook-id` header: the same on every attempt and replay.' })
  messageId!: string;

  @Field()
  type!: string;

  @Field(() => String, { nullable: true, description: 'What order is kept per (the invoice id).' })
  orderingKey!: string | null;

  @Field(() => OutgoingDeliveryStatus)
  status!: OutgoingDeliveryStatus;

  @Field(() => Int)
  attempts!: number;

  @Field(() => Date, { nullable: true, description: 'When the next retry is due (null: at once, or none).' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => Int, { nullable: true })
  lastStatusCode!: number | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field()
  occurredAt!: Date;

  @Field(() => [WebhookDeliveryAttemptType])
  log!: WebhookDeliveryAttemptType[];
}

@InputType('WebhookEndpointInput', { description: 'What to register or change; omitted fields stay as they are.' })
export class WebhookEndpointInput {
  @Field(() => String, { nullable: true, description: 'http(s) URL the events are POSTed to.' })
  url?: string | null;

  @Field(() => [String], { nullable: true })
  eventTypes?: string[] | null;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Int, { nullable: true, description: 'Deliveries per second (1–1000, default 10).' })
  ratePerSecond?: number | null;
}

@ArgsType()
export class WebhookDeliveriesArgs {
  @Field(() => ID)
  endpointId!: string;

  @Field(() => OutgoingDeliveryStatus, { nullable: true })
  status?: OutgoingDeliveryStatus | null;

  @Field(() => Int, { nullable: true, description: 'Newest first; default 50, at most 500.' })
  first?: number | null;
}
