import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { OutgoingDeliveryStatus } from '../../entities/enums';
import type { InvoiceStatus } from '../../entities/enums';
import type { Invoice } from '../../entities';
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
 * Inserts the events `rows` selects (`message_id, type, ordering_key, occurred_at, data`, in the order to keep: ids
 * follow it, and deliveries go out in event id order per ordering key) and their deliveries, in one statement. The
 * deliveries are due at once (the epoch), not at the event's time: another instance's clock may be a little behind the
 * writer's, and a delivery it saw as not yet due would wait for the fallback poll.
 */
async function insertEvents(em: EntityManager, rows: { sql: string; params: unknown[] }): Promise<void> {
  await em.execute(
    `with event as (
       insert into outgoing_events (message_id, type, ordering_key, occurred_at, data)
       ${rows.sql}
       returning id, type, ordering_key),
     queued as (
       insert into outgoing_deliveries (event_id, endpoint_id, ordering_key, status, next_attempt_at)
       select event.id, e.id, event.ordering_key, ${PENDING}, to_timestamp(0)
       from event join webhook_endpoints e on event.type = any(e.event_types)
       order by event.id
       returning id)
     ${NOTIFY_QUEUED}`,
    rows.params,
    'run',
  );
}

const messageId = (): string => `msg_${randomUUID().replaceAll('-', '')}`;

/** Writes an event whose data the caller builds (a billing run's figures, a credit note…). */
export async function recordOutgoingEvent(
  em: EntityManager,
  event: { type: OutgoingEventType; orderingKey?: string | null; data: Record<string, unknown>; at: Date },
): Promise<void> {
  await insertEvents(em, {
    sql: 'select ?, ?, ?, ?::timestamptz, ?::jsonb',
    params: [messageId(), event.type, event.orderingKey ?? null, event.at, JSON.stringify(event.data)],
  });
}

/**
 * The outgoing event of an invoice's status change (`STATUS_EVENT_TYPES`), taken when the change is made: what of the
 * invoice a later change in the same transaction may alter (status, amounts, due date, payment page) is copied now,
 * so the event says what the invoice was at that change even when it is written later, with others
 * (`recordInvoiceStatusEvents`). Null for a status that sends no event.
 */
export interface InvoiceStatusEvent {
  message_id: string;
  type: OutgoingEventType;
  invoice_id: string;
  status: InvoiceStatus;
  total_minor: string;
  amount_paid_minor: string;
  due_date: string | null;
  payment_url: string | null;
  previous_status: InvoiceStatus | null;
  reason: string | null;
  at: string;
}

export function invoiceStatusEvent(
  invoice: Pick<Invoice, 'id' | 'status' | 'totalMinor' | 'amountPaidMinor' | 'dueDate' | 'paymentUrl'>,
  change: { from: InvoiceStatus | null; reason: string | null; at: Date },
): InvoiceStatusEvent | null {
  const type = STATUS_EVENT_TYPES[invoice.status];
  if (!type) {
    return null;
  }
  return {
    message_id: messageId(),
    type,
    invoice_id: invoice.id,
    status: invoice.status,
    total_minor: String(invoice.totalMinor),
    amount_paid_minor: String(invoice.amountPaidMinor),
    due_date: invoice.dueDate ? invoice.dueDate.toISOString() : null,
    payment_url: invoice.paymentUrl ?? null,
    previous_status: change.from,
    reason: change.reason,
    at: change.at.toISOString(),
  };
}

/**
 * Writes status changes' events (`invoiceStatusEvent`), in order, in one statement: the invoice as the change saw it,
 * its number, period, currency and user as the database holds them. Ordered per invoice. Called by the status
 * history's writer only.
 */
export async function recordInvoiceStatusEvents(
  em: EntityManager,
  events: readonly InvoiceStatusEvent[],
): Promise<void> {
  if (events.length === 0) {
    return;
  }
  await insertEvents(em, {
    sql: `select d.message_id, d.type, d.invoice_id, d.at, jsonb_build_object(
        'invoice', jsonb_build_object(
          'id', i.id, 'number', i.number, 'userId', c.external_user_id, 'status', d.status, 'period', i.period,
          'currency', i.currency, 'totalMinor', d.total_minor, 'amountPaidMinor', d.amount_paid_minor,
          'dueDate', d.due_date, 'paymentUrl', d.payment_url),
        'previousStatus', d.previous_status, 'reason', d.reason)
      from rows from (jsonb_to_recordset(?::jsonb) as (message_id text, type text, invoice_id text, status text,
          total_minor bigint, amount_paid_minor bigint, due_date timestamptz, payment_url text, previous_status text,
          reason text, at timestamptz)) with ordinality as d(message_id, type, invoice_id, status, total_minor,
          amount_paid_minor, due_date, payment_url, previous_status, reason, at, n)
      join invoices i on i.id = d.invoice_id::uuid join customers c on c.id = i.customer_id
      order by d.n`,
    params: [JSON.stringify(events)],
  });
}
