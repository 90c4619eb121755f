import type { EntityManager } from '@mikro-orm/postgresql';
import { WebhookEventStatus } from '../../entities/enums';
import { pooledQuery } from '../../entities/pooled-query';
import { webhookIntakeBatch } from '../../lib/metrics';
import type { StripeEventRecord } from '../../stripe';
import { sqlText } from '../shared/sql-values';

/**
 * SQL of the webhook event aggregate (`webhook_events`): the intake's insert, the worker's claim and marks, the
 * health figures and the replay. Statuses come from `WebhookEventStatus`.
 */

const PENDING = sqlText(WebhookEventStatus.PENDING);
const PROCESSING = sqlText(WebhookEventStatus.PROCESSING);
const FAILED = sqlText(WebhookEventStatus.FAILED);

/** A claimed row, as the worker needs it. */
export interface ClaimedEvent {
  id: string;
  type: string;
  objectId: string | null;
  /** Stripe's JSON of the event, parsed (`readStripeEvent` reads it). */
  payload: unknown;
  attempts: number;
  receivedAt: Date;
}

interface ClaimedRow {
  id: string;
  type: string;
  object_id: string | null;
  payload: unknown;
  attempts: number;
  received_at: Date | string;
}

/**
 * Stores verified events in one statement and returns the ids it inserted. The primary key is Stripe's event id, so a
 * redelivery inserts nothing (its id is not returned) and is not applied again (invariant 4). Runs outside any
 * transaction: it commits on return, and only then may the route acknowledge. The rows travel as one JSON array
 * (`jsonb_to_recordset`), each payload the verified body as received (no second serialisation on the hot path), so
 * one prepared statement serves any number of events. An id given twice is inserted once. `received_at` keeps the
 * order of `events` (a microsecond apart within the statement): the worker applies events of the same Stripe second
 * in the order they arrived.
 */
export async function storeStripeEvents(em: EntityManager, events: readonly StripeEventRecord[]): Promise<Set<string>> {
  const rows = events.map(
    (event) =>
      `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},` +
      `"api_version":${JSON.stringify(event.apiVersion)},"livemode":${event.livemode},` +
      `"object_id":${JSON.stringify(event.objectId)},"created":${event.created.getTime() / 1000},` +
      `"payload":${event.json}}`,
  );
  // Bound parameters on the statement pool, prepared once per connection: the hot path of the intake (pooledQuery).
  const inserted = await pooledQuery<{ id: string }>(
    em,
    `insert into webhook_events (id, type, api_version, livemode, object_id, payload, stripe_created_at, received_at)
     select e.id, e.type, e.api_version, e.livemode, e.object_id, e.payload, to_timestamp(e.created),
       now() + (e.n - 1) * interval '1 microsecond'
     from rows from (jsonb_to_recordset($1::jsonb)
       as (id text, type text, api_version text, livemode boolean, object_id text, created float8, payload jsonb))
       with ordinality as e(id, type, api_version, livemode, object_id, created, payload, n)
     order by e.n
     on conflict (id) do nothing
     returning id`,
    [`[${rows.join(',')}]`],
    'webhook_events.insert',
  );
  return new Set(inserted.map((row) => row.id));
}

/** Stores one verified event (`storeStripeEvents`); `duplicate` when Stripe's id was stored before. */
export async function storeStripeEvent(em: EntityManager, event: StripeEventRecord): Promise<{ duplicate: boolean }> {
  const inserted = await storeStripeEvents(em, [event]);
  return { duplicate: !inserted.has(event.id) };
}

/**
 * What one statement of the inbox stores at most: 200 events, and no more than 4 MB of their JSON (a Stripe event is a
 * few kB; the route accepts up to 1 MB, and a burst of those must not become one statement of hundreds of MB).
 */
const MAX_INBOX_BATCH = 200;
const MAX_INBOX_BATCH_CHARS = 4 * 1024 * 1024;

interface InboxEntry {
  event: StripeEventRecord;
  resolve: (stored: { duplicate: boolean }) => void;
  reject: (error: unknown) => void;
}

/**
 * The intake's way to store events: `store` resolves once the event's row committed (or was found stored before), as
 * `storeStripeEvent` does, but events that arrive together share a statement. Up to `maxStatements` statements run at
 * once (the statement pool's size); an event arriving while they all run waits for the next free one and goes with
 * every other event waiting then, so a burst is stored in a few statements and commits (group commit) while a lone
 * event is never held back: nothing waits for a timer.
 *
 * A statement that fails for one event's data (a value PostgreSQL refuses) is retried event by event, so only that
 * event's request fails; any other failure (the database down) fails every event of the statement, and Stripe
 * delivers each again.
 */
export class StripeEventInbox {
  private readonly waiting: InboxEntry[] = [];
  private running = 0;

  constructor(
    private readonly em: EntityManager,
    private readonly maxStatements: number,
  ) {}

  store(event: StripeEventRecord): Promise<{ duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ event, resolve, reject });
      if (this.running < this.maxStatements) {
        this.next();
      }
    });
  }

  private next(): void {
    let take = 1;
    let chars = this.waiting[0].event.json.length;
    while (take < Math.min(this.waiting.length, MAX_INBOX_BATCH)) {
      chars += this.waiting[take].event.json.length;
      if (chars > MAX_INBOX_BATCH_CHARS) {
        break;
      }
      take += 1;
    }
    const batch = this.waiting.splice(0, take);
    this.running += 1;
    void this.storeBatch(batch).finally(() => {
      this.running -= 1;
      if (this.waiting.length > 0) {
        this.next();
      }
    });
  }

  private async storeBatch(batch: InboxEntry[]): Promise<void> {
    webhookIntakeBatch.observe(batch.length);
    let inserted: Set<string>;
    try {
      inserted = await storeStripeEvents(
        this.em,
        batch.map((entry) => entry.event),
      );
    } catch (error) {
      if (batch.length > 1 && isDataError(error)) {
        await Promise.all(batch.map((entry) => this.storeBatch([entry])));
      } else {
        batch.forEach((entry) => entry.reject(error));
      }
      return;
    }
    // A delivery repeated within the batch: its first copy is the one stored, the others are duplicates.
    const answered = new Set<string>();
    for (const { event, resolve } of batch) {
      resolve({ duplicate: answered.has(event.id) || !inserted.has(event.id) });
      answered.add(event.id);
    }
  }
}

/** PostgreSQL refused a value (SQLSTATE class 22, data exception), not the statement as a whole. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/**
 * Which pending events are due at `now` (the worker's clock): a new or replayed event (no attempt yet) at once,
 * whatever the clocks say; a failed one once the retry time its worker chose has come. Retry times are written and
 * compared in the worker's clock, never the database's, so a test that moves the worker's clock moves the retries.
 */
const DUE = `status = ${PENDING} and (attempts = 0 or next_attempt_at <= ?)`;

/** Cheap check outside a transaction, so an idle worker does not open one every poll. */
export async function hasDueEvents(em: EntityManager, now: Date): Promise<boolean> {
  const rows = await em.execute<Array<{ due: number }>>(`select 1 as due from webhook_events where ${DUE} limit 1`, [
    now,
  ]);
  return rows.length > 0;
}

/**
 * Claims due events for the caller's transaction. SKIP LOCKED lets several workers (instances) claim disjoint
 * batches; the locks last until that transaction ends, which is also when each event's effect commits.
 * Oldest Stripe event first, so a sequence is usually applied in order (handlers still cope with any order); within one
 * second (Stripe's `created` has no finer grain) in the order they arrived, which is the order Stripe sent them when
 * delivery is prompt: a PaymentIntent's `payment_failed` before its invoice's, so the status change carries the reason.
 */
export async function claimDueEvents(tem: EntityManager, limit: number, now: Date): Promise<ClaimedEvent[]> {
  const rows = await tem.execute<ClaimedRow[]>(
    `select id, type, object_id, payload, attempts, received_at from webhook_events
     where ${DUE}
     order by stripe_created_at, received_at, id
     limit ?
     for update skip locked`,
    [now, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    type: row.type,
    objectId: row.object_id,
    payload: typeof row.payload === 'string' ? (JSON.parse(row.payload) as unknown) : row.payload,
    attempts: Number(row.attempts),
    receivedAt: new Date(row.received_at),
  }));
}

/**
 * Takes the Stripe objects (invoice, subscription) of a batch for the rest of the caller's transaction, each unless
 * another worker holds it, in one statement; returns the ids taken. Two workers then never apply events about the
 * same object at once: without this, two batches locking the same invoices in different orders deadlock
 * (PostgreSQL resolves it only after deadlock_timeout). Try-locks never wait, so their order does not matter. On
 * PGlite (one session) every lock is taken.
 */
export async function tryLockObjects(tem: EntityManager, objectIds: readonly string[]): Promise<Set<string>> {
  const distinct = [...new Set(objectIds)];
  if (distinct.length === 0) {
    return new Set();
  }
  const rows = await tem.execute<Array<{ id: string; locked: boolean }>>(
    `select k as id, pg_try_advisory_xact_lock(hashtextextended('stripe-object:' || k, 0)) as locked
     from jsonb_array_elements_text(?::jsonb) as k`,
    [JSON.stringify(distinct)],
  );
  return new Set(rows.filter((row) => row.locked === true).map((row) => row.id));
}

/**
 * Marks a batch's applied events done, in the batch transaction that holds their effects (one statement for the
 * batch: the effects and the marks commit together or not at all).
 */
export async function markEventsDone(
  tem: EntityManager,
  done: ReadonlyArray<{ id: string; status: `${WebhookEventStatus.PROCESSED | WebhookEventStatus.IGNORED}` }>,
): Promise<void> {
  if (done.length === 0) {
    return;
  }
  await tem.execute(
    // clock_timestamp(), not now(): now() is the batch transaction's start.
    `update webhook_events w set status = d.status::webhook_event_status, attempts = w.attempts + 1,
       processed_at = clock_timestamp()
     from jsonb_to_recordset(?::jsonb) as d(id text, status text)
     where w.id = d.id`,
    [JSON.stringify(done)],
    'run',
  );
}

/**
 * Records a failed attempt after its effect was rolled back: the error is kept, the next attempt is scheduled at
 * `retryAt` (the worker's clock), and after the last allowed attempt the event is `failed` (visible in health and
 * to admins, replayable). Returns the new status.
 */
export async function recordEventFailure(
  tem: EntityManager,
  id: string,
  input: { error: string; retryAt: Date; maxAttempts: number },
): Promise<WebhookEventStatus.PENDING | WebhookEventStatus.FAILED> {
  const rows = await tem.execute<Array<{ status: WebhookEventStatus.PENDING | WebhookEventStatus.FAILED }>>(
    `update webhook_events set
       attempts = attempts + 1,
       last_error = ?,
       status = (case when attempts + 1 >= ? then ${FAILED} else ${PENDING} end)::webhook_event_status,
       next_attempt_at = ?
     where id = ?
     returning status`,
    [input.error, input.maxAttempts, input.retryAt, id],
  );
  return rows[0]?.status ?? WebhookEventStatus.PENDING;
}

/**
 * For the rest of the caller's transaction, no statement runs and no lock is awaited longer than `ms` (SET LOCAL):
 * a handler blocked behind a row another request holds fails with a timeout and is retried later.
 */
export async function boundStatements(tem: EntityManager, ms: number): Promise<void> {
  await tem.execute(`select set_config('statement_timeout', ?, true), set_config('lock_timeout', ?, true)`, [
    String(ms),
    String(ms),
  ]);
}

export interface BacklogFigures {
  last_received: Date | string | null;
  pending_count: string | number;
  oldest_pending_age: string | number | null;
  failed_count: string | number;
}

/** The backlog as the health route reports it: last arrival, events waiting (and the oldest's age), failed events. */
export async function readBacklogFigures(em: EntityManager): Promise<BacklogFigures> {
  const [row] = await em.execute<BacklogFigures[]>(
    `select
       (select max(received_at) from webhook_events) as last_received,
       (select count(*) from webhook_events where status in (${PENDING}, ${PROCESSING})) as pending_count,
       (select extract(epoch from now() - min(received_at)) from webhook_events
         where status in (${PENDING}, ${PROCESSING})) as oldest_pending_age,
       (select count(*) from webhook_events where status = ${FAILED}) as failed_count`,
  );
  return row;
}

/**
 * Queues the stored events that match every given filter to be applied again: pending, attempts reset, due now
 * (`last_error` is kept). The caller makes sure at least one filter is given. Returns the ids queued.
 */
export async function requeueEvents(
  em: EntityManager,
  filter: { id?: string; failed?: boolean; since?: Date },
): Promise<string[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (filter.id) {
    conditions.push('id = ?');
    params.push(filter.id);
  }
  if (filter.failed) {
    conditions.push(`status = ${FAILED}`);
  }
  if (filter.since) {
    conditions.push('received_at >= ?::timestamptz');
    params.push(filter.since.toISOString());
  }
  const rows = await em.execute<Array<{ id: string }>>(
    `update webhook_events
     set status = ${PENDING}, attempts = 0, next_attempt_at = now(), processed_at = null
     where ${conditions.join(' and ')} returning id`,
    params,
  );
  return rows.map((r) => r.id);
}
