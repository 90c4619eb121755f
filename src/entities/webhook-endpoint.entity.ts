import { Entity, Enum, Property } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { WebhookEndpointStatus } from './enums';

/** One signing secret of an endpoint (`whsec_…`, Standard Webhooks); several overlap during a rotation. */
export interface EndpointSecret {
  /**
   * Sealed (`v1:<key id>:…`, AES-256-GCM under `SECRETS_ENCRYPTION_KEYS`, services/outgoing-webhooks/endpoint-secrets.ts);
   * a plain `whsec_…` only in rows written before encryption, until the server's start seals them.
   */
  secret: string;
  createdAt: string;
  /** After this time the secret no longer signs (the end of a rotation's overlap); null: current. */
  expiresAt: string | null;
}

/**
 * A receiver of outgoing webhooks registered by an admin: where to POST, which event types, its signing secrets
 * (never shown again after creation or rotation), its rate, and whether it is active.
 */
@Entity({ tableName: 'webhook_endpoints' })
export class WebhookEndpoint extends BaseEntity<'status' | 'secrets' | 'ratePerSecond'> {
  @Property({ type: 'text' })
  url!: string;

  @Property({ type: 'text[]' })
  eventTypes!: string[];

  @Property({ type: 'text', nullable: true })
  description?: string | null;

  @Enum({ items: () => WebhookEndpointStatus, nativeEnumName: 'webhook_endpoint_status' })
  status: WebhookEndpointStatus = WebhookEndpointStatus.ACTIVE;

  /** Why it is disabled: an admin's reason, or the persistent failure that disabled it. */
  @Property({ type: 'text', nullable: true })
  disabledReason?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  disabledAt?: Date | null;

  @Property({ type: 'json' })
  secrets: EndpointSecret[] = [];

  /** Deliveries per second to this endpoint, across every instance. */
  @Property({ type: 'integer', default: 10 })
  ratePerSecond: number = 10;

  /**
   * The rate's state (a GCRA "theoretical arrival time"), advanced by each claim that sends to it: a claim may take
   * as many deliveries as fit in the second after `max(rateNextAt, now)`; null: nothing sent yet.
   */
  @Property({ type: 'timestamptz', nullable: true })
  rateNextAt?: Date | null;
}
