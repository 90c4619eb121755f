import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice } from '../entities';
import type { Caller } from './caller';
import { isPrivileged } from './caller';
import { ForbiddenError, NotFoundError } from './errors';
import type { StatusChangeEvent, StatusChangeHub } from './status-change-hub';

/**
 * Opens a live feed of status changes, filtered by the access rule at subscribe time: a user watches their own
 * invoices only (another user's invoice or user id is FORBIDDEN); admin and service callers watch any. With no
 * argument a user watches all of their invoices, an admin all invoices.
 */
export async function watchPaymentStatus(
  em: EntityManager,
  hub: StatusChangeHub,
  caller: Caller,
  input: { invoiceId?: string | null; userId?: string | null },
): Promise<AsyncIterableIterator<StatusChangeEvent>> {
  const privileged = isPrivileged(caller);
  if (input.userId && input.userId !== caller.userId && !privileged) {
    throw new ForbiddenError('You can only watch your own invoices');
  }
  if (input.invoiceId) {
    const invoice = /^[0-9a-f-]{36}$/i.test(input.invoiceId)
      ? await em.findOne(Invoice, input.invoiceId, { populate: ['customer'] })
      : null;
    if (!invoice) {
      throw new NotFoundError(`Invoice "${input.invoiceId}"`);
    }
    if (!privileged && invoice.customer.externalUserId !== caller.userId) {
      throw new ForbiddenError('You can only watch your own invoices');
    }
  }
  const userId = input.userId ?? (privileged ? null : caller.userId);
  return hub.subscribe(
    (event) => (!input.invoiceId || event.invoiceId === input.invoiceId) && (!userId || event.userId === userId),
  );
}
