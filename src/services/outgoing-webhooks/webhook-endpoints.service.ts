import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { WebhookEndpoint } from '../../entities';
import type { EndpointSecret } from '../../entities';
import type { OutgoingDeliveryStatus } from '../../entities/enums';
import { Role, WebhookEndpointStatus } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { BadInputError, NotFoundError, quote } from '../shared/errors';
import { isUuid } from '../shared/uuid';
import { SecretUnreadableError } from '../../lib/secret-box';
import type { SecretBox } from '../../lib/secret-box';
import type { DeliveryRecord } from './delivery-store';
import { disableEndpoint, readDeliveries, requeueDeliveries } from './delivery-store';
import { resealed, sealedSecret } from './endpoint-secrets';
import { endpointUrlProblem } from './endpoint-url';
import { OUTGOING_EVENT_TYPES, isOutgoingEventType } from './event-types';
import { wakeOutgoingWorkers } from './outbox';

/** The admin's use cases on outgoing webhook endpoints: register, change, rotate, disable, enable, replay, read. */

export interface EndpointDeps {
  em: EntityManager;
  caller: Caller;
  /** `OUTGOING_WEBHOOK_ALLOW_PRIVATE_HOSTS`. */
  allowPrivateHosts: boolean;
  /** Seals the signing secrets before they are stored (`SECRETS_ENCRYPTION_KEYS`). */
  secretBox: SecretBox;
  now: Date;
}

export interface EndpointInput {
  url?: string | null;
  eventTypes?: readonly string[] | null;
  description?: string | null;
  ratePerSecond?: number | null;
}

/** An endpoint with the secret just made: shown once, never again. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

const MAX_RATE = 1_000;
const DEFAULT_OVERLAP_HOURS = 24;

function newSecret(): string {
  // Standard Webhooks: `whsec_` and the base64 of the key; 24 random bytes (192 bits).
  return `whsec_${randomBytes(24).toString('base64')}`;
}

function applyInput(endpoint: WebhookEndpoint, input: EndpointInput, allowPrivateHosts: boolean): void {
  if (input.url !== undefined && input.url !== null) {
    const problem = endpointUrlProblem(input.url, allowPrivateHosts);
    if (problem) {
      throw new BadInputError(`url ${problem}`, 'url');
    }
    endpoint.url = input.url;
  }
  if (input.eventTypes !== undefined && input.eventTypes !== null) {
    const unknown = input.eventTypes.find((type) => !isOutgoingEventType(type));
    if (unknown !== undefined || input.eventTypes.length === 0) {
      throw new BadInputError(
        `eventTypes must list one or more of ${OUTGOING_EVENT_TYPES.join(', ')}` +
          (unknown === undefined ? '' : `; got ${quote(unknown)}`),
        'eventTypes',
      );
    }
    endpoint.eventTypes = [...new Set(input.eventTypes)];
  }
  if (input.description !== undefined) {
    endpoint.description = input.description;
  }
  if (input.ratePerSecond !== undefined && input.ratePerSecond !== null) {
    if (!Number.isInteger(input.ratePerSecond) || input.ratePerSecond < 1 || input.ratePerSecond > MAX_RATE) {
      throw new BadInputError(`ratePerSecond must be a whole number from 1 to ${MAX_RATE}`, 'ratePerSecond');
    }
    endpoint.ratePerSecond = input.ratePerSecond;
  }
}

/**
 * An endpoint as admins see it at `now`, whatever the transport: GraphQL answers it as is, REST renames its fields,
 * the CLI prints it. Secrets are listed by their dates only (the ones that sign at `now`: the current one, and the old
 * ones during a rotation's overlap), never their values.
 */
export interface WebhookEndpointView {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  status: WebhookEndpointStatus;
  disabledReason: string | null;
  disabledAt: Date | null;
  ratePerSecond: number;
  signingSecrets: Array<{ createdAt: Date; expiresAt: Date | null }>;
  createdAt: Date;
}

export function webhookEndpointView(endpoint: WebhookEndpoint, now: number): WebhookEndpointView {
  return {
    id: endpoint.id,
    url: endpoint.url,
    eventTypes: endpoint.eventTypes,
    description: endpoint.description ?? null,
    status: endpoint.status,
    disabledReason: endpoint.disabledReason ?? null,
    disabledAt: endpoint.disabledAt ?? null,
    ratePerSecond: endpoint.ratePerSecond,
    signingSecrets: endpoint.secrets
      .filter((s) => s.expiresAt === null || new Date(s.expiresAt).getTime() > now)
      .map((s) => ({
        createdAt: new Date(s.createdAt),
        expiresAt: s.expiresAt === null ? null : new Date(s.expiresAt),
      })),
    createdAt: endpoint.createdAt,
  };
}

async function findEndpoint(em: EntityManager, id: string): Promise<WebhookEndpoint> {
  const endpoint = isUuid(id) ? await em.findOne(WebhookEndpoint, { id }) : null;
  if (!endpoint) {
    throw new NotFoundError(`Webhook endpoint ${quote(id)}`);
  }
  return endpoint;
}

export async function createWebhookEndpoint(deps: EndpointDeps, input: EndpointInput): Promise<EndpointWithSecret> {
  requireRole(deps.caller, Role.ADMIN);
  if (!input.url || !input.eventTypes) {
    throw new BadInputError('url and eventTypes are required', input.url ? 'eventTypes' : 'url');
  }
  const endpoint = deps.em.create(WebhookEndpoint, { url: input.url, eventTypes: [] });
  applyInput(endpoint, input, deps.allowPrivateHosts);
  const secret = newSecret();
  endpoint.secrets = [sealedSecret(deps.secretBox, endpoint.id, secret, deps.now)];
  await deps.em.flush();
  return { endpoint, secret };
}

export async function updateWebhookEndpoint(
  deps: EndpointDeps,
  id: string,
  input: EndpointInput,
): Promise<WebhookEndpoint> {
  requireRole(deps.caller, Role.ADMIN);
  const endpoint = await findEndpoint(deps.em, id);
  applyInput(endpoint, input, deps.allowPrivateHosts);
  await deps.em.flush();
  return endpoint;
}

/**
 * A new signing secret. The current ones keep signing for `overlapHours` (default 24; 0 ends them now), so receivers
 * that still know only the old secret verify meanwhile: every message carries one signature per signing secret.
 */
export async function rotateWebhookEndpointSecret(
  deps: EndpointDeps,
  id: string,
  overlapHours?: number | null,
): Promise<EndpointWithSecret> {
  requireRole(deps.caller, Role.ADMIN);
  const hours = overlapHours ?? DEFAULT_OVERLAP_HOURS;
  if (!Number.isInteger(hours) || hours < 0 || hours > 720) {
    throw new BadInputError('overlapHours must be a whole number from 0 to 720', 'overlapHours');
  }
  const endpoint = await findEndpoint(deps.em, id);
  const now = deps.now.getTime();
  const until = new Date(now + hours * 3_600_000).toISOString();
  // The ones kept for the overlap are sealed with the current key too (a legacy plain one is sealed now); one whose
  // key is gone could not sign anyway and is dropped, so a rotation is the way out of an unreadable secret.
  const kept: EndpointSecret[] = endpoint.secrets
    .filter((s) => s.expiresAt === null || new Date(s.expiresAt).getTime() > now)
    .filter(() => hours > 0)
    .flatMap((s) => {
      try {
        return [resealed(deps.secretBox, endpoint.id, s)];
      } catch (error) {
        if (error instanceof SecretUnreadableError) {
          return [];
        }
        throw error;
      }
    })
    .map((s) => ({ ...s, expiresAt: s.expiresAt !== null && s.expiresAt < until ? s.expiresAt : until }));
  const secret = newSecret();
  endpoint.secrets = [...kept, sealedSecret(deps.secretBox, endpoint.id, secret, deps.now)];
  await deps.em.flush();
  return { endpoint, secret };
}

/**
 * Disables (nothing is sent until enabled; new events still queue for it) or enables an endpoint. Enabling sends its
 * failed deliveries again too, before anything newer about the same invoice, so nothing is lost or out of order.
 */
export async function setWebhookEndpointEnabled(
  deps: EndpointDeps,
  id: string,
  enabled: boolean,
  reason?: string | null,
): Promise<WebhookEndpoint> {
  requireRole(deps.caller, Role.ADMIN);
  await findEndpoint(deps.em, id);
  await deps.em.transactional(async (tem) => {
    if (!enabled) {
      await disableEndpoint(tem, id, reason ?? `disabled by ${deps.caller.userId}`, deps.now);
      return;
    }
    await tem.nativeUpdate(
      WebhookEndpoint,
      { id },
      { status: WebhookEndpointStatus.ACTIVE, disabledReason: null, disabledAt: null },
    );
    await requeueDeliveries(tem, { endpointId: id, failedOnly: true });
    // What queued for it while disabled is due now too.
    await wakeOutgoingWorkers(tem);
  });
  deps.em.clear();
  return findEndpoint(deps.em, id);
}

/** Sends one delivery again from its first attempt (its log is kept); it keeps its place in its invoice's order. */
export async function replayWebhookDelivery(deps: EndpointDeps, deliveryId: string): Promise<DeliveryRecord> {
  requireRole(deps.caller, Role.ADMIN);
  // Read in the requeue's transaction: as queued, before a worker woken by its commit takes it.
  const [record] = /^\d{1,18}$/.test(deliveryId)
    ? await deps.em.transactional(async (tem) => {
        await requeueDeliveries(tem, { deliveryId });
        return readDeliveries(tem, { deliveryId, limit: 1 });
      })
    : [];
  if (!record) {
    throw new NotFoundError(`Webhook delivery ${quote(deliveryId)}`);
  }
  return record;
}

/**
 * Sends again an endpoint's deliveries of the events that occurred in `[from, to)` (a receiver that lost a day), each
 * from its first attempt with its log kept, in order per invoice. Answers how many were queued.
 */
export async function replayWebhookDeliveries(
  deps: EndpointDeps,
  endpointId: string,
  range: { from: Date; to: Date },
): Promise<number> {
  requireRole(deps.caller, Role.ADMIN);
  if (!(range.from.getTime() < range.to.getTime())) {
    throw new BadInputError('from must be before to', 'from');
  }
  await findEndpoint(deps.em, endpointId);
  return requeueDeliveries(deps.em, { endpointId, from: range.from, to: range.to });
}

export async function listWebhookEndpoints(deps: Pick<EndpointDeps, 'em' | 'caller'>): Promise<WebhookEndpoint[]> {
  requireRole(deps.caller, Role.ADMIN);
  return deps.em.find(WebhookEndpoint, {}, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

export async function getWebhookEndpoint(
  deps: Pick<EndpointDeps, 'em' | 'caller'>,
  id: string,
): Promise<WebhookEndpoint> {
  requireRole(deps.caller, Role.ADMIN);
  return findEndpoint(deps.em, id);
}

/** An endpoint's deliveries, newest first, each with its attempt log. */
export async function listWebhookDeliveries(
  deps: Pick<EndpointDeps, 'em' | 'caller'>,
  endpointId: string,
  filter: { status?: OutgoingDeliveryStatus | null; first?: number | null },
): Promise<DeliveryRecord[]> {
  requireRole(deps.caller, Role.ADMIN);
  await findEndpoint(deps.em, endpointId);
  const first = filter.first ?? 50;
  if (!Number.isInteger(first) || first < 1 || first > 500) {
    throw new BadInputError('first must be a whole number from 1 to 500', 'first');
  }
  return readDeliveries(deps.em, { endpointId, status: filter.status, limit: first });
}
