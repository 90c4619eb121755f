import type { EntityManager } from '@mikro-orm/postgresql';
import { pooledQuery } from '../../entities/pooled-query';
import type { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import type { InvoiceRecord } from '../invoicing/invoice-read-model';
import { readInvoices } from '../invoicing/invoice-read.repository';

/**
 * A committed status change as subscribers receive it. `invoice` is read once per change and instance, and the same
 * object is handed to every subscriber (the resolver maps it once too): never mutate it.
 */
export interface StatusChangeEvent {
  /** The `invoice_status_changes` row id: what a client passes back as `after` to resume. */
  changeId: string;
  invoiceId: string;
  userId: string;
  status: InvoiceStatus;
  previousStatus: InvoiceStatus | null;
  occurredAt: Date;
  reason: string | null;
  source: StatusChangeSource;
  invoice: InvoiceRecord;
}

/** Marks the feed's statements in the SQL log (and in pg_stat_activity), so their number can be checked. */
export const FEED_SQL_COMMENT = 'status-feed';

/** One `invoice_status_changes` row with its invoice's owner, as the feed reads it. */
export interface ChangeRow {
  id: string;
  invoiceId: string;
  userId: string;
  from: InvoiceStatus | null;
  to: InvoiceStatus;
  source: StatusChangeSource;
  reason: string | null;
  occurredAt: Date;
}

/** Which changes to read: by id, or after a change id for one invoice, one user or everyone. */
export type ChangeFilter =
  { ids: string[] } | { after: string; invoiceId: string | null; userId: string | null; limit: number };

interface ChangeSqlRow {
  id: string;
  invoice_id: string;
  user_id: string;
  from_status: InvoiceStatus | null;
  to_status: InvoiceStatus;
  source: StatusChangeSource;
  reason: string | null;
  occurred_at: number;
}

/**
 * The change rows of a filter in id order, with their invoice's owner: one statement, plain SQL (the ORM's query
 * building cost a change's single delivery several milliseconds). Times are read as epoch milliseconds, as the invoice
 * read path does, so pg and PGlite agree.
 */
export async function readChangeRows(em: EntityManager, filter: ChangeFilter): Promise<ChangeRow[]> {
  const params: unknown[] = [];
  let where: string;
  let limit = '';
  if ('ids' in filter) {
    if (filter.ids.length === 0) {
      return [];
    }
    params.push(filter.ids);
    where = 'h.id = any($1::bigint[])';
  } else {
    params.push(filter.after);
    const conditions = ['h.id > $1::bigint'];
    if (filter.invoiceId !== null) {
      params.push(filter.invoiceId);
      conditions.push(`h.invoice_id = $${params.length}::uuid`);
    }
    if (filter.userId !== null) {
      params.push(filter.userId);
      conditions.push(`c.external_user_id = $${params.length}::text`);
    }
    params.push(filter.limit);
    limit = `limit $${params.length}::int`;
    where = conditions.join(' and ');
  }
  const rows = await pooledQuery<ChangeSqlRow>(
    em,
    `/* ${FEED_SQL_COMMENT} */ select h.id::text as id, h.invoice_id, c.external_user_id as user_id, h.from_status,
       h.to_status, h.source, h.reason, floor(extract(epoch from h.occurred_at) * 1000)::float8 as occurred_at
     from invoice_status_changes h join invoices i on i.id = h.invoice_id join customers c on c.id = i.customer_id
     where ${where} order by h.id ${limit}`,
    params,
  );
  return rows.map((row) => ({
    id: row.id,
    invoiceId: row.invoice_id,
    userId: row.user_id,
    from: row.from_status,
    to: row.to_status,
    source: row.source,
    reason: row.reason,
    occurredAt: new Date(row.occurred_at),
  }));
}

/**
 * What the subscription returns for each invoice: the invoice with its lines and status history, read through the
 * one invoice read path, for many invoices in one statement whatever their number.
 */
export function readInvoiceViews(em: EntityManager, invoiceIds: string[]): Promise<Map<string, InvoiceRecord>> {
  return readInvoices(em, invoiceIds, FEED_SQL_COMMENT);
}

export function toStatusChangeEvent(change: ChangeRow, invoice: InvoiceRecord): StatusChangeEvent {
  return {
    changeId: change.id,
    invoiceId: change.invoiceId,
    userId: change.userId,
    status: change.to,
    previousStatus: change.from,
    occurredAt: change.occurredAt,
    reason: change.reason,
    source: change.source,
    invoice,
  };
}

/** Changes of `where` in id order with their invoices (two statements): the replay of a resumed subscription. */
export async function readStatusChanges(em: EntityManager, filter: ChangeFilter): Promise<StatusChangeEvent[]> {
  const rows = await readChangeRows(em, filter);
  const views = await readInvoiceViews(em, [...new Set(rows.map((row) => row.invoiceId))]);
  return rows.flatMap((row) => {
    const view = views.get(row.invoiceId);
    return view ? [toStatusChangeEvent(row, view)] : [];
  });
}
