import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice, InvoiceStatusChange } from '../../entities';
import type { InvoiceStatus } from '../../entities/enums';
import { parsePeriod } from '../billing-runs/billing-period';
import type { Caller } from '../customers/caller';
import { isPrivileged, resolveSubject } from '../customers/caller';
import { BadInputError, NotFoundError } from '../shared/errors';
import { decodeCursor, encodeCursor } from '../shared/keyset-cursor';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An invoice the caller may see: their own, or any for admin and service callers. Another user's invoice answers
 * exactly like a missing one, so ids cannot be probed.
 */
export async function findAccessibleInvoice(em: EntityManager, caller: Caller, invoiceId: string): Promise<Invoice> {
  const invoice = UUID.test(invoiceId)
    ? await em.findOne(Invoice, invoiceId, { populate: ['customer', 'lines', 'lines.metric'] })
    : null;
  if (!invoice || (!isPrivileged(caller) && invoice.customer.externalUserId !== caller.userId)) {
    throw new NotFoundError(`Invoice "${invoiceId}"`);
  }
  return invoice;
}

export interface InvoiceView {
  invoice: Invoice;
  history: InvoiceStatusChange[];
}

/** Status history of many invoices in one query (no N+1). */
export async function loadHistories(
  em: EntityManager,
  invoices: Invoice[],
): Promise<Map<string, InvoiceStatusChange[]>> {
  const rows = invoices.length
    ? await em.find(
        InvoiceStatusChange,
        { invoice: { $in: invoices.map((i) => i.id) } },
        { orderBy: { occurredAt: 'asc', id: 'asc' } },
      )
    : [];
  const byInvoice = new Map<string, InvoiceStatusChange[]>(invoices.map((i) => [i.id, []]));
  for (const row of rows) {
    byInvoice.get(row.invoice.id)?.push(row);
  }
  return byInvoice;
}

export async function getInvoice(em: EntityManager, caller: Caller, invoiceId: string): Promise<InvoiceView> {
  const invoice = await findAccessibleInvoice(em, caller, invoiceId);
  return { invoice, history: (await loadHistories(em, [invoice])).get(invoice.id) ?? [] };
}

export interface InvoicePage {
  views: InvoiceView[];
  cursors: string[];
  hasNextPage: boolean;
  totalCount: number;
}

/**
 * A page of invoices, newest first, as a Relay connection. Users see their own; admins and services anyone's
 * (all users when no userId is given). A constant number of queries whatever the page size: the page, the count,
 * lines with their metrics, customers, and the histories.
 */
export async function listInvoices(
  em: EntityManager,
  caller: Caller,
  args: {
    userId?: string | null;
    status?: InvoiceStatus | null;
    period?: string | null;
    first?: number | null;
    after?: string | null;
  },
): Promise<InvoicePage> {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) {
    throw new BadInputError('first must be between 1 and 100', 'first');
  }
  const where: Record<string, unknown> = {};
  if (args.userId || !isPrivileged(caller)) {
    where.customer = { externalUserId: resolveSubject(caller, args.userId) };
  }
  if (args.status) {
    where.status = args.status;
  }
  if (args.period) {
    where.period = parsePeriod(args.period).key;
  }
  const totalCount = await em.count(Invoice, where);
  const pageWhere = { ...where };
  if (args.after) {
    const { at: createdAt, id } = decodeCursor(args.after, (candidate) => UUID.test(candidate));
    pageWhere.$or = [{ createdAt: { $lt: createdAt } }, { createdAt, id: { $lt: id } }];
  }
  const rows = await em.find(Invoice, pageWhere, {
    orderBy: { createdAt: 'desc', id: 'desc' },
    limit: first + 1,
    populate: ['customer', 'lines', 'lines.metric'],
  });
  const page = rows.slice(0, first);
  const histories = await loadHistories(em, page);
  return {
    views: page.map((invoice) => ({ invoice, history: histories.get(invoice.id) ?? [] })),
    cursors: page.map((invoice) => encodeCursor(invoice.createdAt, invoice.id)),
    hasNextPage: rows.length > first,
    totalCount,
  };
}
