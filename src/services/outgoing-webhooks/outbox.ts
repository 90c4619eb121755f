import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { OutgoingDeliveryStatus } from '../../entities/enums';
import type { InvoiceStatus } from '../../entities/enums';
import { sqlText } from '../shared/sql-values';
import { STATUS_EVENT_TYPES } from './event-types';
import type { OutgoingEventType } from './event-types';

/**
 * The outbox's writer. An event and its deliveries (one per endpoint that wants its type; a disabled one's wait for it to be enabled) are inserted by one
 * statement through the caller's transactional manager, so the platform hears of a change exactly when it commits,
 * and a rolled-back change sends nothing. The same statement NOTIFYs `OUTGOING_WEBHOOK_CHANNEL` when it queued a
 * delivery: PostgreSQL sends it at commit (never for a rollback), to the workers of every instance.
 */

/** Wakes the outgoing webhook workers: deliveries are due now. The payload says nothing (ids are read, not told). */
export const OUTGOING_WEBHOOK_CHANNEL = 'outgoing_webhooks';

/** SQL that NOTIFYs the workers when the CTE `queued` (deliveries just queued or requeued) has a row. */
export const NOTIFY_QUEUED = `select pg_notify('${OUTGOING_WEBHOOK_CHANNEL}', 'due') where exists (select 1 from queued)`;

const PENDING = sqlText(OutgoingDeliveryStatus.PENDING);

/** NOTIFYs the workers (at the commit of `em`'s transaction): something may be due, e.g. an endpoint enabled. */
export async function wakeOutgoingWorkers(em: EntityManager): Promise<void> {
  await em.execute(`select pg_notify('${OUTGOING_WEBHOOK_CHANNEL}', 'due')`);
}

/**
 * `data` is a SQL expression (a jsonb) reading `dataParams`; the event row gets the rest. Its deliveries are due at
 * once (the epoch), not at the event's time: another instance's clock may be a little behind the writer's, and a
 * delivery it saw as not yet due would wait for the fallback poll.
 */
async function insertEvent(
  em: EntityManager,
  event: { type: OutgoingEventType; orderingKey: string | null; at: Date },
  data: { sql: string; from?: string; params: unknown[] },
): Promise<void> {
  await em.execute(
    `with event as (
       insert into outgoing_events (message_id, type, ordering_key, occurred_at, data)
       select ?, ?, ?, ?, ${data.sql} ${data.from ?? ''}
       returning id, type, ordering_key),
     queued as (
       insert into outgoing_deliveries (event_id, endpoint_id, ordering_key, status, next_attempt_at)
       select event.id, e.id, event.ordering_key, ${PENDING}, to_timestamp(0)
       from event join webhook_endpoints e on event.type = any(e.event_types)
       returning id)
     ${NOTIFY_QUEUED}`,
    [`msg_${randomUUID().replaceAll('-', '')}`, event.type, event.orderingKey, event.at, ...data.params],
    'run',
  );
}

/** Writes an event whose data the caller builds (a billing run's figures, a credit note…). */
export async function recordOutgoingEvent(
  em: EntityManager,
  event: { type: OutgoingEventType; orderingKey?: string | null; data: Record<string, unknown>; at: Date },
): Promise<void> {
  await insertEvent(
    em,
    { type: event.type, orderingKey: event.orderingKey ?? null, at: event.at },
    { sql: '?::jsonb', params: [JSON.stringify(event.data)] },
  );
}

/**
 * Writes the event of an invoice's status change (`STATUS_EVENT_TYPES`), the invoice as the database holds it in the
 * caller's transaction (flushed first). Ordered per invoice. Called by the status history's writer only.
 */
export async function recordInvoiceStatusEvent(
  em: EntityManager,
  change: { invoiceId: string; from: InvoiceStatus | null; to: InvoiceStatus; reason: string | null; at: Date },
): Promise<void> {
  const type = STATUS_EVENT_TYPES[change.to];
  if (!type) {
    return;
  }
  await insertEvent(
    em,
    { type, orderingKey: change.invoiceId, at: change.at },
    {
      sql: `jsonb_build_object(
        'invoice', jsonb_build_object(
          'id', i.id, 'number', i.number, 'userId', c.external_user_id, 'status', i.status, 'period', i.period,
          'currency', i.currency, 'totalMinor', i.total_minor, 'amountPaidMinor', i.amount_paid_minor,
          'dueDate', i.due_date, 'paymentUrl', i.payment_url),
        'previousStatus', ?::text, 'reason', ?::text)`,
      from: 'from invoices i join customers c on c.id = i.customer_id where i.id = ?',
      params: [change.from, change.reason, change.invoiceId],
    },
  );
}
