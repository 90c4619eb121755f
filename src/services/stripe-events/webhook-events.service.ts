import type { EntityManager } from '@mikro-orm/postgresql';
import { WebhookEvent } from '../../entities';
import type { WebhookEventStatus } from '../../entities/enums';
import { Role } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { requireStorableDate } from '../shared/date-range';
import { decodeCursor, encodeCursor } from '../shared/keyset-cursor';
import { BadInputError, NotFoundError, quote } from '../shared/errors';
import { requeueEvents } from './webhook-event-store';

export interface WebhookEventFilter {
  /** Exact type (`invoice.paid`) or a prefix wildcard (`invoice.*`). */
  type?: string | null;
  status?: WebhookEventStatus | null;
  /** Received at or after. */
  since?: Date | null;
  /** Received before. */
  until?: Date | null;
  first?: number | null;
  after?: string | null;
}

export interface WebhookEventPage {
  events: WebhookEvent[];
  cursors: string[];
  hasNextPage: boolean;
  totalCount: number;
}

function typeCondition(type: string): unknown {
  if (!/^[a-z0-9_.*]{1,100}$/.test(type) || (type.includes('*') && !/^[a-z0-9_.]*\*$/.test(type))) {
    throw new BadInputError('type must be an event type such as invoice.paid, or a prefix such as invoice.*', 'type');
  }
  if (!type.endsWith('*')) {
    return type;
  }
  const prefix = type.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`);
  return { $like: `${prefix}%` };
}

/** Stored Stripe events, newest received first, as a Relay connection (admins only). */
export async function listWebhookEvents(
  em: EntityManager,
  caller: Caller,
  args: WebhookEventFilter = {},
): Promise<WebhookEventPage> {
  requireRole(caller, Role.ADMIN);
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) {
    throw new BadInputError('first must be between 1 and 100', 'first');
  }
  const where: Record<string, unknown> = {};
  if (args.type) {
    where.type = typeCondition(args.type);
  }
  if (args.status) {
    where.status = args.status;
  }
  if (args.since || args.until) {
    where.receivedAt = {
      ...(args.since ? { $gte: requireStorableDate(args.since, 'since') } : {}),
      ...(args.until ? { $lt: requireStorableDate(args.until, 'until') } : {}),
    };
  }
  const totalCount = await em.count(WebhookEvent, where);
  const pageWhere: Record<string, unknown> = { ...where };
  if (args.after) {
    const { at: receivedAt, id } = decodeCursor(args.after);
    pageWhere.$and = [{ $or: [{ receivedAt: { $lt: receivedAt } }, { receivedAt, id: { $lt: id } }] }];
  }
  const rows = await em.find(WebhookEvent, pageWhere, {
    orderBy: { receivedAt: 'desc', id: 'desc' },
    limit: first + 1,
  });
  const events = rows.slice(0, first);
  return {
    events,
    cursors: events.map((event) => encodeCursor(event.receivedAt, event.id)),
    hasNextPage: rows.length > first,
    totalCount,
  };
}

/** One stored event (admins only); NOT_FOUND when there is none with that id. */
export async function getWebhookEvent(em: EntityManager, caller: Caller, id: string): Promise<WebhookEvent> {
  requireRole(caller, Role.ADMIN);
  const event = id.length <= 255 ? await em.findOne(WebhookEvent, id, { refresh: true }) : null;
  if (!event) {
    throw new NotFoundError(`Webhook event ${quote(id)}`);
  }
  return event;
}

/**
 * Queues one stored event to be applied again (admins only): pending, attempts reset, due now. `last_error` is
 * kept as the history of why it failed. Handlers are idempotent, so replaying a processed event changes nothing
 * that is already applied.
 */
export async function replayWebhookEvent(em: EntityManager, caller: Caller, id: string): Promise<WebhookEvent> {
  requireRole(caller, Role.ADMIN);
  const { ids } = await replayWebhookEvents(em, { id });
  if (ids.length === 0) {
    throw new NotFoundError(`Webhook event ${quote(id)}`);
  }
  return em.findOneOrFail(WebhookEvent, id, { refresh: true });
}

/**
 * Replay for the operator CLI (no caller: the CLI runs with database access). Filters combine with AND; at least
 * one is required so that a bare call never replays the whole history.
 */
export async function replayWebhookEvents(
  em: EntityManager,
  filter: { id?: string; failed?: boolean; since?: Date },
): Promise<{ count: number; ids: string[] }> {
  if (filter.since && Number.isNaN(filter.since.getTime())) {
    throw new BadInputError('since must be a valid time', 'since');
  }
  if (!filter.id && !filter.failed && !filter.since) {
    throw new BadInputError('Give an event id, --failed or --since');
  }
  const ids = await requeueEvents(em, filter);
  return { count: ids.length, ids };
}
