import type { WebhookEndpoint } from '../entities';
import { OutgoingDeliveryStatus, Role } from '../entities/enums';
import type { Caller } from '../services/customers/caller';
import type { DeliveryRecord } from '../services/outgoing-webhooks/delivery-store';
import { reencryptEndpointSecrets } from '../services/outgoing-webhooks/endpoint-secrets';
import { secretBoxFromConfig } from '../services/shared/secrets-at-rest';
import type { EndpointDeps, EndpointInput } from '../services/outgoing-webhooks/webhook-endpoints.service';
import {
  createWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  replayWebhookDeliveries,
  replayWebhookDelivery,
  rotateWebhookEndpointSecret,
  setWebhookEndpointEnabled,
  updateWebhookEndpoint,
  webhookEndpointView,
} from '../services/outgoing-webhooks/webhook-endpoints.service';
import type { CommandResult, Env, Flags } from './billing-commands';
import { UsageError, str, timeFlag } from './billing-commands';

/**
 * `npm run billing -- webhook-endpoints …`: the admins' outgoing webhook endpoint use cases from a shell, through the
 * same services as GraphQL and REST, as the operator (admin role). Changes reach a running server through the
 * database: a replay NOTIFYs its workers.
 */

const OPERATOR: Caller = { userId: 'cli:operator', role: Role.ADMIN };

function deps(env: Env): EndpointDeps {
  return {
    em: env.db.orm.em.fork(),
    caller: OPERATOR,
    allowPrivateHosts: env.config.outgoingWebhooks.allowPrivateHosts,
    secretBox: secretBoxFromConfig(env.config),
    now: new Date(env.clock.now()),
  };
}

function wholeFlag(flags: Flags, name: string): number | undefined {
  const raw = str(flags, name);
  if (raw === undefined) {
    return undefined;
  }
  if (!/^\d{1,6}$/.test(raw)) {
    throw new UsageError(`--${name} must be a whole number (got "${raw}")`);
  }
  return Number(raw);
}

function requiredId(flags: Flags): string {
  const id = str(flags, 'id');
  if (!id) {
    throw new UsageError('--id <endpoint id> is required');
  }
  return id;
}

function endpointInput(flags: Flags): EndpointInput {
  const events = str(flags, 'events');
  return {
    url: str(flags, 'url'),
    eventTypes: events === undefined ? undefined : events.split(',').map((type) => type.trim()),
    description: str(flags, 'description'),
    ratePerSecond: wholeFlag(flags, 'rate'),
  };
}

const endpointLine = (e: WebhookEndpoint): string =>
  `${e.id}  ${e.status.padEnd(8)}  ${e.ratePerSecond}/s  ${e.url}  ${e.eventTypes.join(',')}` +
  (e.disabledReason ? `  (${e.disabledReason})` : '');

const deliveryLine = (d: DeliveryRecord): string =>
  `${d.id.padStart(6)}  ${d.status.padEnd(10)}  ${d.type.padEnd(24)}  ${d.messageId}  attempts ${d.attempts}` +
  (d.lastError ? `  last: ${d.lastError}` : '');

/** The CLI's JSON of an endpoint is the use cases' view of it, at the command's time. */
const endpointJson = (d: EndpointDeps) => (endpoint: WebhookEndpoint) => webhookEndpointView(endpoint, d.now.getTime());

const one = (d: EndpointDeps, endpoint: WebhookEndpoint, verb: string): CommandResult => ({
  code: 0,
  result: { ok: true, endpoint: endpointJson(d)(endpoint) },
  text: `${verb}: ${endpointLine(endpoint)}`,
});

export async function webhookEndpointCommand(key: string, env: Env, flags: Flags): Promise<CommandResult> {
  const d = deps(env);
  switch (key) {
    case 'webhook-endpoints list': {
      const endpoints = await listWebhookEndpoints(d);
      return {
        code: 0,
        result: { ok: true, endpoints: endpoints.map(endpointJson(d)) },
        text: endpoints.length ? endpoints.map(endpointLine).join('\n') : 'No webhook endpoints.',
      };
    }
    case 'webhook-endpoints create': {
      const { endpoint, secret } = await createWebhookEndpoint(d, endpointInput(flags));
      return {
        code: 0,
        result: { ok: true, endpoint: endpointJson(d)(endpoint), secret },
        text: `Registered: ${endpointLine(endpoint)}\nSigning secret (shown once): ${secret}`,
      };
    }
    case 'webhook-endpoints update':
      return one(d, await updateWebhookEndpoint(d, requiredId(flags), endpointInput(flags)), 'Updated');
    case 'webhook-endpoints disable':
      return one(d, await setWebhookEndpointEnabled(d, requiredId(flags), false, str(flags, 'reason')), 'Disabled');
    case 'webhook-endpoints enable':
      return one(d, await setWebhookEndpointEnabled(d, requiredId(flags), true), 'Enabled');
    case 'webhook-endpoints rotate-secret': {
      const { endpoint, secret } = await rotateWebhookEndpointSecret(
        d,
        requiredId(flags),
        wholeFlag(flags, 'overlap-hours'),
      );
      return {
        code: 0,
        result: { ok: true, endpoint: endpointJson(d)(endpoint), secret },
        text: `Rotated: ${endpointLine(endpoint)}\nNew signing secret (shown once): ${secret}`,
      };
    }
    case 'webhook-endpoints deliveries': {
      const status = str(flags, 'status');
      if (status !== undefined && !(Object.values(OutgoingDeliveryStatus) as string[]).includes(status)) {
        throw new UsageError(`--status must be one of ${Object.values(OutgoingDeliveryStatus).join(', ')}`);
      }
      const deliveries = await listWebhookDeliveries(d, requiredId(flags), {
        status: status as OutgoingDeliveryStatus | undefined,
        first: wholeFlag(flags, 'limit'),
      });
      return {
        code: 0,
        result: { ok: true, deliveries },
        text: deliveries.length ? deliveries.map(deliveryLine).join('\n') : 'No deliveries.',
      };
    }
    case 'webhook-endpoints reencrypt':
      return reencrypt(d);
    default:
      return replay(d, flags);
  }
}

/**
 * Seals every endpoint's signing secrets with the first key of SECRETS_ENCRYPTION_KEYS: legacy plain ones, and those
 * of an older key (after a rotation), so the older key can be removed. Exit 1 when a secret does not open.
 */
async function reencrypt(d: EndpointDeps): Promise<CommandResult> {
  const report = await reencryptEndpointSecrets(d.em, d.secretBox, { allKeys: true, now: d.now });
  const failed = report.unreadable.map((u) => `  ${u.endpointId}: ${u.reason}`);
  return {
    code: failed.length > 0 ? 1 : 0,
    result: { ok: failed.length === 0, ...report },
    text:
      `Sealed ${report.secrets} signing secret(s) of ${report.endpoints} endpoint(s) with key "${report.kid}"` +
      (report.dropped > 0 ? `; dropped ${report.dropped} whose rotation overlap had ended` : '') +
      '; the others already were.' +
      (failed.length > 0
        ? `\nNot readable (left as they are; add their key back, or rotate):\n${failed.join('\n')}`
        : ''),
  };
}

/** One delivery (`--delivery`), or an endpoint's events of a time range (`--id --since [--until]`). */
async function replay(d: EndpointDeps, flags: Flags): Promise<CommandResult> {
  const deliveryId = str(flags, 'delivery');
  if (deliveryId !== undefined) {
    const delivery = await replayWebhookDelivery(d, deliveryId);
    return {
      code: 0,
      result: { ok: true, delivery },
      text: `Queued again: ${deliveryLine(delivery)}; a running server's worker sends it.`,
    };
  }
  const since = timeFlag(flags, 'since');
  if (!since) {
    throw new UsageError('Give --delivery <id>, or --id <endpoint id> with --since <ISO time> [--until <ISO time>]');
  }
  const until = timeFlag(flags, 'until') ?? d.now;
  const queued = await replayWebhookDeliveries(d, requiredId(flags), { from: since, to: until });
  return {
    code: 0,
    result: { ok: true, queued, from: since.toISOString(), to: until.toISOString() },
    text: `Queued ${queued} deliveries again (events from ${since.toISOString()} to ${until.toISOString()}; one in flight once its attempt ends); a running server's worker sends them in order.`,
  };
}
