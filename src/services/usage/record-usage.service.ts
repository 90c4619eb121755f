import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { MetricAggregation, Role } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { compare, parseDecimal } from '../shared/decimal';
import { parseIsoTimestamp } from '../shared/date-range';
import { BadInputError } from '../shared/errors';
import { USER_ID_NUMBER_RULE, userIdFromJson } from '../customers/user-id';
import { activeMetrics, ensureCustomers, insertUsageRecords } from './usage-repository';
import type { IncomingUsage, UsageWritePath } from './usage-repository';
import { insertDeadLetters } from './usage-dead-letters.repository';
import type { UsageQueue } from './usage-queue';
import { catalogueLookup } from './metric-catalogue';
import type { MetricLookup } from './metric-catalogue';
import { ensureUsagePartitions } from './usage-partitions';

export const MAX_USAGE_BATCH = 10_000;
/** Clock skew we tolerate for events stamped slightly in the future by an agent runtime. */
const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
const EARLIEST = Date.UTC(2000, 0, 1);
const DECIMAL = /^\d{1,18}(\.\d{1,12})?$/;
/**
 * Largest quantity one event may carry: 10^12 units, far beyond any single real measurement. Billing reads a
 * customer's monthly sum per metric back as a decimal of at most 18 integer digits (numeric(30,12)), so the cap
 * leaves room for 999,999 maximum-size events per customer, metric and month (docs/pricing-and-usage.md). Without
 * it, two accepted events of 999999999999999999 made usageSummary and createInvoice fail.
 */
export const MAX_USAGE_QUANTITY = '1000000000000';
const MAX_QUANTITY = parseDecimal(MAX_USAGE_QUANTITY);
const MAX_METADATA_BYTES = 4096;
const ONE = parseDecimal('1');
/**
 * Aggregations that never read an event's quantity: COUNT counts events, UNIQUE_COUNT counts distinct values of a
 * field. A quantity other than 1 on such a metric would be stored and then silently billed as one event, so it is
 * rejected instead (SUM and MAX read the quantity).
 */
const COUNTED_AGGREGATIONS: ReadonlySet<MetricAggregation> = new Set([
  MetricAggregation.COUNT,
  MetricAggregation.UNIQUE_COUNT,
]);

/** One usage event as an agent runtime sends it (GraphQL input or JSON body); validated here, field by field. */
export interface UsageEventData {
  userId?: unknown;
  metric?: unknown;
  quantity?: unknown;
  occurredAt?: unknown;
  idempotencyKey?: unknown;
  agentId?: unknown;
  metadata?: unknown;
}

export type UsageRejectionCode =
  | 'INVALID_EVENT'
  | 'MISSING_FIELD'
  | 'INVALID_USER_ID'
  | 'UNKNOWN_METRIC'
  | 'INVALID_QUANTITY'
  | 'QUANTITY_TOO_LARGE'
  | 'QUANTITY_MUST_BE_ONE'
  | 'INVALID_TIMESTAMP'
  | 'INVALID_IDEMPOTENCY_KEY'
  | 'INVALID_AGENT_ID'
  | 'INVALID_METADATA';

export interface UsageRejection {
  index: number;
  code: UsageRejectionCode;
  message: string;
}

export interface RecordUsageResult {
  /** Events stored by this call. */
  accepted: number;
  /** Events already stored earlier (same customer and idempotency key), or repeated within the batch. */
  duplicates: number;
  rejected: UsageRejection[];
  /** Accepted events whose period already has an invoice: carried to the next invoice as an adjustment. */
  late: number;
}

/** A valid event: its metric's id once the catalogue has been read, else null (checked when it is written). */
type ValidEvent = Omit<IncomingUsage, 'metricId'> & { metric: string; metricId: string | null };

function text(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= max ? value : undefined;
}

function validate(
  event: UsageEventData,
  index: number,
  metricOf: MetricLookup,
  now: number,
): ValidEvent | UsageRejection {
  const reject = (code: UsageRejectionCode, message: string): UsageRejection => ({ index, code, message });
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return reject('INVALID_EVENT', 'Each event must be an object');
  }
  for (const field of ['userId', 'metric', 'quantity', 'occurredAt', 'idempotencyKey'] as const) {
    if (event[field] === undefined || event[field] === null || event[field] === '') {
      return reject('MISSING_FIELD', `${field} is required`);
    }
  }
  // A JSON body may name the user as a number (123 → "123"), as the payment guide's REST examples do.
  const userId = text(userIdFromJson(event.userId), 200);
  if (!userId) {
    return reject(
      'INVALID_USER_ID',
      `userId must be a non-empty string of at most 200 characters, or ${USER_ID_NUMBER_RULE}`,
    );
  }
  if (userId !== userId.trim()) {
    // " u1" would silently become a second customer beside "u1".
    return reject('INVALID_USER_ID', 'userId must not start or end with whitespace');
  }
  const metric = typeof event.metric === 'string' ? metricOf(event.metric) : 'unknown';
  if (metric === 'unknown') {
    return reject('UNKNOWN_METRIC', `Unknown or inactive metric "${String(event.metric).slice(0, 100)}"`);
  }
  // A JSON number has been through a float, which is exact only for whole numbers up to 2^53 - 1: 9007199254740993
  // arrives as ...992 and 0.10000000000000001 as 0.1. Any other number may already be rounded; strings are exact.
  if (typeof event.quantity === 'number' && !Number.isSafeInteger(event.quantity)) {
    return reject(
      'INVALID_QUANTITY',
      `quantity was sent as a JSON number that is not a whole number up to ${Number.MAX_SAFE_INTEGER}, so it may ` +
        'have been rounded in transit: send the quantity as a decimal string, e.g. "12.5"',
    );
  }
  const quantity = typeof event.quantity === 'number' ? String(event.quantity) : event.quantity;
  if (typeof quantity !== 'string' || !DECIMAL.test(quantity)) {
    return reject(
      'INVALID_QUANTITY',
      'quantity must be a non-negative decimal with at most 18 integer and 12 fractional digits',
    );
  }
  if (compare(parseDecimal(quantity), MAX_QUANTITY) > 0) {
    return reject(
      'QUANTITY_TOO_LARGE',
      `quantity must be at most ${MAX_USAGE_QUANTITY} (10^12) per event; split larger usage into several events`,
    );
  }
  if (
    metric !== 'later' &&
    COUNTED_AGGREGATIONS.has(metric.aggregation) &&
    compare(parseDecimal(quantity), ONE) !== 0
  ) {
    return reject(
      'QUANTITY_MUST_BE_ONE',
      `metric "${String(event.metric)}" is a ${metric.aggregation.toUpperCase()} metric: it counts ` +
        `${metric.aggregation === MetricAggregation.COUNT ? 'events' : 'distinct values'} and never reads quantity, ` +
        `so quantity must be 1 (got ${quantity}); send one event per occurrence`,
    );
  }
  const at = parseIsoTimestamp(event.occurredAt);
  if (at === 'malformed') {
    return reject('INVALID_TIMESTAMP', 'occurredAt must be an ISO 8601 date-time, e.g. 2024-01-15T10:00:00Z');
  }
  if (at === 'no_zone') {
    return reject('INVALID_TIMESTAMP', 'occurredAt must end with its time zone: Z or an offset such as +02:00');
  }
  if (at === 'impossible') {
    return reject(
      'INVALID_TIMESTAMP',
      'occurredAt is not a real calendar date-time (month 01-12, a day that exists in that month, hour 00-23, ' +
        'minute and second 00-59)',
    );
  }
  if (at > now + MAX_FUTURE_SKEW_MS || at < EARLIEST) {
    return reject('INVALID_TIMESTAMP', 'occurredAt must not be in the future nor before 2000-01-01');
  }
  const idempotencyKey = text(event.idempotencyKey, 255);
  if (!idempotencyKey) {
    return reject('INVALID_IDEMPOTENCY_KEY', 'idempotencyKey must be a non-empty string of at most 255 characters');
  }
  let agentId: string | null = null;
  if (event.agentId !== undefined && event.agentId !== null) {
    agentId = text(event.agentId, 200) ?? null;
    if (!agentId) {
      return reject('INVALID_AGENT_ID', 'agentId must be a non-empty string of at most 200 characters');
    }
  }
  let metadata: Record<string, unknown> | null = null;
  if (event.metadata !== undefined && event.metadata !== null) {
    if (typeof event.metadata !== 'object' || Array.isArray(event.metadata)) {
      return reject('INVALID_METADATA', 'metadata must be a JSON object');
    }
    if (Buffer.byteLength(JSON.stringify(event.metadata)) > MAX_METADATA_BYTES) {
      return reject('INVALID_METADATA', `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
    }
    metadata = event.metadata as Record<string, unknown>;
  }
  return {
    userId,
    metric: event.metric as string,
    metricId: metric === 'later' ? null : metric.id,
    quantity,
    occurredAt: new Date(at).toISOString(),
    idempotencyKey,
    agentId,
    metadata,
  };
}

/**
 * Stores a batch of usage events (roles service and admin). Invalid events are reported by index and the valid
 * ones stored; duplicates (same customer and idempotency key) are counted, not stored again: the first copy wins,
 * within a batch as across batches. The write is set-based and atomic: one statement creates the customers first
 * seen, the batch is streamed into a staging table with `COPY` (PostgreSQL; bound as arrays on the embedded
 * database, see `UsageWritePath`), and one insert from it with `ON CONFLICT DO NOTHING` stores the events, all in
 * one transaction. `path` is for tests that compare the two ways in.
 *
 * With a `queue` (`USAGE_INGEST=jetstream`) the batch is validated the same way, against the catalogue as last read
 * (`UsageQueue.metrics`), and answered once the queue has stored it; `storeQueuedUsage` writes it later, checking
 * again what needed the database. `accepted` then counts events queued, `duplicates` those the queue already held,
 * and `late` is 0: whether an event is late is known only when it is written.
 */
export async function recordUsage(
  em: EntityManager,
  caller: Caller,
  events: readonly UsageEventData[],
  now: Date = new Date(),
  path?: UsageWritePath,
  queue?: UsageQueue,
): Promise<RecordUsageResult> {
  requireRole(caller, Role.SERVICE, Role.ADMIN);
  if (!Array.isArray(events)) {
    throw new BadInputError('events must be an array', 'events');
  }
  if (events.length > MAX_USAGE_BATCH) {
    throw new BadInputError(`A batch holds at most ${MAX_USAGE_BATCH} events (got ${events.length})`, 'events');
  }
  if (events.length === 0) {
    return { accepted: 0, duplicates: 0, rejected: [], late: 0 };
  }

  // Validation reads only the catalogue, so it runs before the transaction takes a connection.
  const metricOf = queue
    ? await queue.metrics(
        em,
        events.map((e) => e?.metric),
      )
    : catalogueLookup(await activeMetrics(em));
  const { valid, unique, rejected } = check(events, metricOf, now);
  if (unique.length === 0) {
    return { accepted: 0, duplicates: 0, rejected, late: 0 };
  }
  if (queue) {
    const queued = await queue.publish(unique.map(({ metricId: _, ...event }) => event));
    return { accepted: queued.stored, duplicates: valid.length - queued.stored, rejected, late: 0 };
  }
  // A month without a partition gets one first, in a transaction of its own (usage-partitions.ts).
  await ensureUsagePartitions(
    em,
    unique.map((e) => new Date(e.occurredAt)),
  );
  const stored = await em.transactional((tem) => storeValid(tem, unique.map(withMetricId), path));
  return { accepted: stored.accepted, duplicates: valid.length - stored.accepted, rejected, late: stored.late };
}

/** Validates every event; the valid ones, and those of them whose key is first seen in the batch. */
function check(
  events: readonly UsageEventData[],
  metricOf: MetricLookup,
  now: Date,
): { valid: ValidEvent[]; unique: ValidEvent[]; rejected: UsageRejection[] } {
  const valid: ValidEvent[] = [];
  const rejected: UsageRejection[] = [];
  events.forEach((event, index) => {
    const result = validate(event, index, metricOf, now.getTime());
    if ('code' in result) {
      rejected.push(result);
    } else {
      valid.push(result);
    }
  });
  // The first copy of a key wins within a batch as it does across batches. Left to the insert, which copy is kept
  // would depend on the row order of its join, so later copies never reach it and are counted as duplicates.
  const seen = new Set<string>();
  const unique = valid.filter((e) => {
    const key = JSON.stringify([e.userId, e.idempotencyKey]);
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
  return { valid, unique, rejected };
}

function withMetricId({ metric: _, metricId, ...event }: ValidEvent): IncomingUsage {
  if (metricId === null) {
    throw new Error('an event reached the write without its metric checked');
  }
  return { ...event, metricId };
}

/** Creates the customers first seen and inserts the events; part of the caller's transaction. */
async function storeValid(
  tem: EntityManager,
  events: IncomingUsage[],
  path?: UsageWritePath,
): Promise<{ accepted: number; late: number }> {
  // Customers first seen here are created set-based, as `me` would create them.
  const userIds = [...new Set(events.map((e) => e.userId))];
  await ensureCustomers(
    tem,
    userIds.map((userId) => ({ id: randomUUID(), userId })),
  );
  return insertUsageRecords(tem, events, path);
}

export interface QueuedUsageResult {
  /** Events stored by this write. */
  accepted: number;
  /** Events stored earlier (the database's unique key), or repeated within the write. */
  duplicates: number;
  /** Events refused by the checks that need the database, recorded in `usage_dead_letters`. */
  deadLettered: UsageRejection[];
}

/**
 * Writes events taken from the usage queue (`USAGE_INGEST=jetstream`) through the same set-based write as
 * `recordUsage`, in one transaction: the checks that needed the catalogue run again (the metric may be unknown or
 * inactive by now, or was never checked while the database was down), and what they refuse is recorded as a dead
 * letter in the same transaction, never dropped. `events[i]` failing is reported as index `i`.
 */
export async function storeQueuedUsage(
  em: EntityManager,
  events: readonly UsageEventData[],
  now: Date = new Date(),
  path?: UsageWritePath,
): Promise<QueuedUsageResult> {
  const metricOf = catalogueLookup(await activeMetrics(em));
  const { valid, unique, rejected } = check(events, metricOf, now);
  await ensureUsagePartitions(
    em,
    unique.map((e) => new Date(e.occurredAt)),
  );
  const stored = await em.transactional(async (tem) => {
    if (rejected.length > 0) {
      await insertDeadLetters(
        tem,
        rejected.map((r) => ({ payload: JSON.stringify(events[r.index]), code: r.code, message: r.message })),
      );
    }
    return unique.length > 0 ? storeValid(tem, unique.map(withMetricId), path) : { accepted: 0, late: 0 };
  });
  return { accepted: stored.accepted, duplicates: valid.length - stored.accepted, deadLettered: rejected };
}
