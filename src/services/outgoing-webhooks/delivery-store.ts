import type { EntityManager } from '@mikro-orm/postgresql';
import type { EndpointSecret } from '../../entities';
import { OutgoingDeliveryStatus, WebhookEndpointStatus } from '../../entities/enums';
import { sqlText } from '../shared/sql-values';
import { NOTIFY_QUEUED } from './outbox';

/**
 * SQL of the outgoing delivery aggregate (`outgoing_deliveries` and their attempt log): the worker's claim and
 * outcomes, replays. Schedules (`next_attempt_at`, `lease_until`, `first_attempt_at`) are written and compared in the
 * worker's clock (`now` arguments), so a test that moves that clock moves retries and leases.
 */

const PENDING = sqlText(OutgoingDeliveryStatus.PENDING);
const DELIVERING = sqlText(OutgoingDeliveryStatus.DELIVERING);
const DELIVERED = sqlText(OutgoingDeliveryStatus.DELIVERED);
const FAILED = sqlText(OutgoingDeliveryStatus.FAILED);
const ACTIVE = sqlText(WebhookEndpointStatus.ACTIVE);
const DISABLED = sqlText(WebhookEndpointStatus.DISABLED);

/** "Due at once": new and replayed deliveries, whatever the worker's clock says. */
const AT_ONCE = `to_timestamp(0)`;

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  /** This attempt's number (1 for the first). */
  attempt: number;
  firstAttemptAt: Date;
  messageId: string;
  type: string;
  occurredAt: Date;
  data: unknown;
  endpointId: string;
  url: string;
  secrets: EndpointSecret[];
  ratePerSecond: number;
}

interface ClaimedRow {
  id: string;
  attempts: number;
  first_attempt_at: Date | string;
  message_id: string;
  type: string;
  occurred_at: Date | string;
  data: unknown;
  endpoint_id: string;
  url: string;
  secrets: unknown;
  rate_per_second: number;
}

const parse = (value: unknown): unknown => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value);

/** What a claim took, and when the next delivery it left behind for an endpoint's rate may be sent. */
export interface Claim {
  deliveries: ClaimedDelivery[];
  /** Null: nothing was held back by a rate. */
  throttledUntil: Date | null;
}

/**
 * An endpoint's rate, `r` per second: a token is free when its `rate_next_at` is at most `now + 1 s − 1/r`. Times are
 * stored to the microsecond, so `1/r` steps are rounded: both tests allow `SLACK` (2 µs) for it.
 */
const SLACK = 0.000002;
const HAS_TOKEN = `coalesce(e.rate_next_at, ?::timestamptz)
  <= ?::timestamptz + make_interval(secs => ${1 + SLACK} - 1.0 / e.rate_per_second)`;

/**
 * Claims up to `limit` deliveries due at `now` for active endpoints (pending and due, or delivering with an expired
 * lease: its instance died) with `FOR UPDATE SKIP LOCKED`, each leased for `leaseMs`. Only the oldest undelivered
 * delivery per endpoint and ordering key (the invoice) is due, so an invoice's events reach an endpoint one at a time
 * and in order; an event whose key is null waits for nothing.
 *
 * The endpoint's rate is one budget shared by every instance, taken in the same statement: the endpoint row is locked
 * and its `rate_next_at` (a GCRA theoretical arrival time) says how many of the candidates fit in the second after
 * `max(rate_next_at, now)`; those are claimed and the time is moved on by one interval (1/rate) each. The rest stay
 * pending, untouched. An endpoint with no token left is not a candidate at all, so it never fills a round in place of
 * others; `throttledUntil` says when the first endpoint held back (left over, or without a token while it has due
 * deliveries) has a token again.
 */
export async function claimDeliveries(
  em: EntityManager,
  options: { limit: number; leaseMs: number; now: Date },
): Promise<Claim> {
  const { now } = options;
  const rows = await em.execute<Array<Partial<ClaimedRow> & { throttled_until: Date | string | null }>>(
    `with candidates as (
       select d.id, d.endpoint_id, d.event_id from outgoing_deliveries d
       join webhook_endpoints e on e.id = d.endpoint_id and e.status = ${ACTIVE}
       where ((d.status = ${PENDING} and d.next_attempt_at <= ?) or (d.status = ${DELIVERING} and d.lease_until < ?))
         and ${HAS_TOKEN}
         and not exists (
           select 1 from outgoing_deliveries p
           where p.endpoint_id = d.endpoint_id and p.ordering_key = d.ordering_key and p.event_id < d.event_id
             and p.status in (${PENDING}, ${DELIVERING}))
       order by d.event_id
       limit ?
       for update of d skip locked),
     ranked as (
       select c.id, c.endpoint_id, row_number() over (partition by c.endpoint_id order by c.event_id) as n
       from candidates c),
     budget as (
       select e.id, e.rate_per_second as rate,
         greatest(coalesce(e.rate_next_at, ?::timestamptz), ?::timestamptz) as base
       from webhook_endpoints e where e.id in (select endpoint_id from candidates)
       for update of e),
     granted as (
       select b.id, b.rate, b.base, w.wanted,
         least(w.wanted, greatest(0, floor(b.rate * (${1 + SLACK} - extract(epoch from (b.base - ?::timestamptz))))))::int
           as n
       from budget b
       join (select endpoint_id, count(*) as wanted from candidates group by endpoint_id) w on w.endpoint_id = b.id),
     spent as (
       update webhook_endpoints e set rate_next_at = g.base + make_interval(secs => g.n::float8 / g.rate)
       from granted g where e.id = g.id and g.n > 0
       returning e.id),
     claimed as (
       update outgoing_deliveries d
       set status = ${DELIVERING}, attempts = d.attempts + 1, lease_until = ?,
           first_attempt_at = coalesce(d.first_attempt_at, ?)
       from ranked r, granted g, outgoing_events ev, webhook_endpoints e
       where d.id = r.id and g.id = r.endpoint_id and r.n <= g.n and ev.id = d.event_id and e.id = d.endpoint_id
       returning d.id, d.attempts, d.first_attempt_at, ev.message_id, ev.type, ev.occurred_at, ev.data,
         e.id as endpoint_id, e.url, e.secrets, e.rate_per_second)
     select claimed.*, t.throttled_until from claimed
     right join (
       select min(at) as throttled_until from (
         select g.base + make_interval(secs => (g.n + 1)::float8 / g.rate) - interval '1 second' as at
         from granted g where g.n < g.wanted
         union all
         select e.rate_next_at + make_interval(secs => 1.0 / e.rate_per_second) - interval '1 second'
         from webhook_endpoints e
         where e.status = ${ACTIVE} and not (${HAS_TOKEN})
           and exists (select 1 from outgoing_deliveries d
                       where d.endpoint_id = e.id and d.status = ${PENDING} and d.next_attempt_at <= ?)) held
     ) t on true`,
    [now, now, now, now, options.limit, now, now, now, new Date(now.getTime() + options.leaseMs), now, now, now, now],
  );
  const throttled = rows[0]?.throttled_until ?? null;
  const deliveries = (rows.filter((r) => r.id !== null && r.id !== undefined) as ClaimedRow[])
    .map((r) => ({
      id: String(r.id),
      attempt: Number(r.attempts),
      firstAttemptAt: new Date(r.first_attempt_at),
      messageId: r.message_id,
      type: r.type,
      occurredAt: new Date(r.occurred_at),
      data: parse(r.data),
      endpointId: r.endpoint_id,
      url: r.url,
      secrets: parse(r.secrets) as EndpointSecret[],
      ratePerSecond: Number(r.rate_per_second),
    }))
    .sort((a, b) => Number(a.id) - Number(b.id));
  return { deliveries, throttledUntil: throttled === null ? null : new Date(throttled) };
}

/** What one attempt came to. */
export interface AttemptResult {
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** Delivered, or else when to try again (null: the retry window is over, the delivery failed). */
  outcome: { kind: 'delivered' } | { kind: 'retry'; at: Date } | { kind: 'failed' };
}

/** Logs an attempt and moves its delivery on, in one statement each, at `now`. */
export async function recordAttempt(
  em: EntityManager,
  delivery: Pick<ClaimedDelivery, 'id' | 'attempt'>,
  result: AttemptResult,
  now: Date,
): Promise<void> {
  await em.execute(
    `insert into outgoing_delivery_attempts (delivery_id, attempt, status_code, duration_ms, error, attempted_at)
     values (?, ?, ?, ?, ?, ?)`,
    [delivery.id, delivery.attempt, result.statusCode, Math.round(result.durationMs), result.error, now],
    'run',
  );
  const { outcome } = result;
  const status = outcome.kind === 'delivered' ? DELIVERED : outcome.kind === 'retry' ? PENDING : FAILED;
  // A replay asked for during the attempt (`replay_requested`) starts over once it ends, whatever the outcome.
  await em.execute(
    `with moved as (
       update outgoing_deliveries
       set status = (case when replay_requested then ${PENDING} else ${status} end)::outgoing_delivery_status,
           attempts = case when replay_requested then 0 else attempts end,
           first_attempt_at = case when replay_requested then null else first_attempt_at end,
           next_attempt_at = case when replay_requested then ${AT_ONCE} else ?::timestamptz end,
           lease_until = null, last_status_code = ?, last_error = ?, delivered_at = ?, replay_requested = false
       where id = ? and status = ${DELIVERING}
       returning id, next_attempt_at = ${AT_ONCE} as replayed),
     queued as (select id from moved where replayed)
     ${NOTIFY_QUEUED}`,
    [
      outcome.kind === 'retry' ? outcome.at : now,
      result.statusCode,
      result.error,
      outcome.kind === 'delivered' ? now : null,
      delivery.id,
    ],
    'run',
  );
}

/** Disables an active endpoint (an admin, or persistent failure); true when it was active. */
export async function disableEndpoint(em: EntityManager, id: string, reason: string, now: Date): Promise<boolean> {
  const rows = await em.execute<Array<{ id: string }>>(
    `update webhook_endpoints set status = ${DISABLED}, disabled_reason = ?, disabled_at = ?, updated_at = now()
     where id = ? and status = ${ACTIVE} returning id`,
    [reason, now, id],
  );
  return rows.length > 0;
}

/**
 * Queues deliveries to be sent again from the first attempt, due at once, keeping their log: one delivery by id, an
 * endpoint's failed deliveries, or an endpoint's deliveries of the events that occurred in `[from, to)`. One being
 * sent now is queued when its attempt ends (`recordAttempt`). Returns how many were queued, now or after their attempt.
 */
export async function requeueDeliveries(
  em: EntityManager,
  filter:
    { deliveryId: string } | { endpointId: string; failedOnly: true } | { endpointId: string; from: Date; to: Date },
): Promise<number> {
  const where =
    'deliveryId' in filter
      ? 'id = ?'
      : 'failedOnly' in filter
        ? `endpoint_id = ? and status = ${FAILED}`
        : `endpoint_id = ? and event_id in (select id from outgoing_events where occurred_at >= ? and occurred_at < ?)`;
  const params =
    'deliveryId' in filter
      ? [filter.deliveryId]
      : 'failedOnly' in filter
        ? [filter.endpointId]
        : [filter.endpointId, filter.from, filter.to];
  // One in flight is marked instead: `recordAttempt` queues it when its attempt ends, so no replay is lost. One
  // statement decides both on the row's latest version (an attempt recorded meanwhile is seen), never neither.
  const flying = `status = ${DELIVERING}`;
  const rows = await em.execute<Array<{ queued: number }>>(
    `with requeued as (
       update outgoing_deliveries
       set status = case when ${flying} then status else ${PENDING} end,
           attempts = case when ${flying} then attempts else 0 end,
           first_attempt_at = case when ${flying} then first_attempt_at end,
           lease_until = case when ${flying} then lease_until end,
           next_attempt_at = case when ${flying} then next_attempt_at else ${AT_ONCE} end,
           replay_requested = ${flying}
       where ${where} returning id, status = ${PENDING} as at_once),
     queued as (select id from requeued where at_once),
     notified as (${NOTIFY_QUEUED})
     select (select count(*) from requeued)::int as queued, (select count(*) from notified) as notified`,
    params,
  );
  return Number(rows[0]?.queued ?? 0);
}

/** A delivery as admins see it, with its attempt log (oldest first). */
export interface DeliveryRecord {
  id: string;
  endpointId: string;
  messageId: string;
  type: string;
  orderingKey: string | null;
  status: OutgoingDeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  occurredAt: Date;
  log: Array<{
    attempt: number;
    statusCode: number | null;
    durationMs: number;
    error: string | null;
    attemptedAt: Date;
  }>;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  message_id: string;
  type: string;
  ordering_key: string | null;
  status: OutgoingDeliveryStatus;
  attempts: number;
  next_attempt_at: Date | string;
  delivered_at: Date | string | null;
  last_status_code: number | null;
  last_error: string | null;
  occurred_at: Date | string;
  log: unknown;
}

interface LogRow {
  attempt: number;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  attempted_at: string;
}

/** Deliveries, newest event first: one endpoint's (optionally of one status), or one by id. */
export async function readDeliveries(
  em: EntityManager,
  filter: { endpointId?: string; deliveryId?: string; status?: OutgoingDeliveryStatus | null; limit: number },
): Promise<DeliveryRecord[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter.endpointId) {
    conditions.push('d.endpoint_id = ?');
    params.push(filter.endpointId);
  }
  if (filter.deliveryId) {
    conditions.push('d.id = ?');
    params.push(filter.deliveryId);
  }
  if (filter.status) {
    conditions.push('d.status = ?::outgoing_delivery_status');
    params.push(filter.status);
  }
  const rows = await em.execute<DeliveryRow[]>(
    `select d.id, d.endpoint_id, ev.message_id, ev.type, d.ordering_key, d.status, d.attempts, d.next_attempt_at,
       d.delivered_at, d.last_status_code, d.last_error, ev.occurred_at,
       coalesce((select json_agg(json_build_object('attempt', a.attempt, 'status_code', a.status_code,
                   'duration_ms', a.duration_ms, 'error', a.error, 'attempted_at', a.attempted_at) order by a.id)
                 from outgoing_delivery_attempts a where a.delivery_id = d.id), '[]'::json) as log
     from outgoing_deliveries d join outgoing_events ev on ev.id = d.event_id
     where ${conditions.length ? conditions.join(' and ') : 'true'}
     order by d.event_id desc, d.id desc
     limit ?`,
    [...params, filter.limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    endpointId: r.endpoint_id,
    messageId: r.message_id,
    type: r.type,
    orderingKey: r.ordering_key,
    status: r.status,
    attempts: Number(r.attempts),
    // The epoch stands for "due at once" (new or replayed).
    nextAttemptAt:
      r.status === OutgoingDeliveryStatus.PENDING && new Date(r.next_attempt_at).getTime() > 0
        ? new Date(r.next_attempt_at)
        : null,
    deliveredAt: r.delivered_at === null ? null : new Date(r.delivered_at),
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: r.last_error,
    occurredAt: new Date(r.occurred_at),
    log: (parse(r.log) as LogRow[]).map((a) => ({
      attempt: Number(a.attempt),
      statusCode: a.status_code === null ? null : Number(a.status_code),
      durationMs: Number(a.duration_ms),
      error: a.error,
      attemptedAt: new Date(a.attempted_at),
    })),
  }));
}
