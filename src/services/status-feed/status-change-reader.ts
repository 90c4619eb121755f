import type { EntityManager, FilterQuery } from '@mikro-orm/postgresql';
import { InvoiceStatusChange } from '../../entities';
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

/** The change rows of `where` in id order, with their invoice's customer: one statement. */
export function readChangeRows(
  em: EntityManager,
  where: FilterQuery<InvoiceStatusChange>,
  limit?: number,
): Promise<InvoiceStatusChange[]> {
  return em.find(InvoiceStatusChange, where, {
    populate: ['invoice.customer'],
    orderBy: { id: 'asc' },
    limit,
    comments: [FEED_SQL_COMMENT],
  });
}

/**
 * What the subscription returns for each invoice: the invoice with its lines and status history, read through the
 * one invoice read path, for many invoices in one statement whatever their number.
 */
export function readInvoiceViews(em: EntityManager, invoiceIds: string[]): Promise<Map<string, InvoiceRecord>> {
  return readInvoices(em, invoiceIds, FEED_SQL_COMMENT);
}

export function toStatusChangeEvent(change: InvoiceStatusChange, invoice: InvoiceRecord): StatusChangeEvent {
  return {
    changeId: change.id,
    invoiceId: change.invoice.id,
    userId: change.invoice.customer.externalUserId,
    status: change.toStatus,
    previousStatus: change.fromStatus ?? null,
    occurredAt: change.occurredAt,
    reason: change.reason ?? null,
    source: change.source,
    invoice,
  };
}

/** Changes of `where` in id order with their invoices (two statements): the replay of a resumed subscription. */
export async function readStatusChanges(
  em: EntityManager,
  where: FilterQuery<InvoiceStatusChange>,
  limit: number,
): Promise<StatusChangeEvent[]> {
  const rows = await readChangeRows(em, where, limit);
  const views = await readInvoiceViews(em, [...new Set(rows.map((row) => row.invoice.id))]);
  return rows.flatMap((row) => {
    const view = views.get(row.invoice.id);
    return view ? [toStatusChangeEvent(row, view)] : [];
  });
}
