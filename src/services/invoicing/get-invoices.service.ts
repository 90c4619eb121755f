import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice } from '../../entities';
import type { InvoiceStatus } from '../../entities/enums';
import { parsePeriod } from '../billing-runs/billing-period';
import type { Caller } from '../customers/caller';
import { isPrivileged, resolveSubject } from '../customers/caller';
import { BadInputError, NotFoundError, quote } from '../shared/errors';
import { decodeCursor, encodeCursor } from '../shared/keyset-cursor';
import type { InvoiceRecord } from './invoice-read-model';
import type { InvoiceFilter } from './invoice-read.repository';
import { countInvoices, readInvoice, readInvoicePage } from './invoice-read.repository';
import { isUuid } from '../shared/uuid';

/**
 * Whose invoice the caller says it is, checked before anything is read: a user naming another user is FORBIDDEN
 * whether or not the invoice exists (`resolveSubject`). Returns the owner an admin or service named, which the
 * invoice must then have (NOT_FOUND otherwise, so a script's wrong pairing never pays or voids another customer's
 * invoice); null when the caller named nobody, or is a user naming themselves (their own invoices are all they see).
 */
function claimedOwner(caller: Caller, userId: string | null | undefined): string | null {
  const subject = resolveSubject(caller, userId);
  return userId === undefined || userId === null || !isPrivileged(caller) ? null : subject;
}

/**
 * An invoice entity the caller may see, for use cases that change it: their own, or any for admin and service
 * callers. Another user's invoice answers exactly like a missing one, so ids cannot be probed. `userId`, when given,
 * is the owner the caller claims (`claimedOwner`). Readers use `getInvoice`, which hydrates nothing.
 */
export async function findAccessibleInvoice(
  em: EntityManager,
  caller: Caller,
  invoiceId: string,
  userId?: string | null,
): Promise<Invoice> {
  const owner = claimedOwner(caller, userId);
  const invoice = isUuid(invoiceId)
    ? await em.findOne(Invoice, invoiceId, { populate: ['customer', 'lines', 'lines.metric'] })
    : null;
  const ownerId = invoice?.customer.externalUserId;
  if (!invoice || (!isPrivileged(caller) && ownerId !== caller.userId) || (owner !== null && ownerId !== owner)) {
    throw new NotFoundError(`Invoice ${quote(invoiceId)}`);
  }
  return invoice;
}

/**
 * One invoice with its lines and status history, as readers see it: the caller's own, or any for admin and service
 * callers; another user's answers NOT_FOUND like a missing one. `userId`, when given, is the owner the caller claims
 * (`claimedOwner`). One SQL statement, no entity hydrated.
 */
export async function getInvoice(
  em: EntityManager,
  caller: Caller,
  invoiceId: string,
  userId?: string | null,
): Promise<InvoiceRecord> {
  const owner = isPrivileged(caller) ? claimedOwner(caller, userId) : resolveSubject(caller, userId);
  const invoice = isUuid(invoiceId) ? await readInvoice(em, invoiceId, owner) : null;
  if (!invoice) {
    throw new NotFoundError(`Invoice ${quote(invoiceId)}`);
  }
  return invoice;
}

export interface InvoicePage {
  invoices: InvoiceRecord[];
  cursors: string[];
  hasNextPage: boolean;
  totalCount: number;
}

/**
 * A page of invoices with their lines and status histories, newest first, as a Relay connection. Users see their
 * own; admins and services anyone's (all users when no userId is given). Two SQL statements whatever the page size:
 * the count and the page (`invoice-read.repository.ts`), run side by side.
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
  const filter: InvoiceFilter = {
    userId: args.userId || !isPrivileged(caller) ? resolveSubject(caller, args.userId) : null,
    status: args.status ?? null,
    period: args.period ? parsePeriod(args.period).key : null,
  };
  const after = args.after ? decodeCursor(args.after, (candidate) => isUuid(candidate)) : null;
  const [totalCount, rows] = await Promise.all([
    countInvoices(em, filter),
    readInvoicePage(em, filter, after, first + 1),
  ]);
  const invoices = rows.slice(0, first);
  return {
    invoices,
    cursors: invoices.map((invoice) => encodeCursor(invoice.createdAt, invoice.id)),
    hasNextPage: rows.length > first,
    totalCount,
  };
}
