import type { EntityManager } from '@mikro-orm/postgresql';
import type { Caller } from '../customers/caller';
import { isPrivileged, resolveSubject } from '../customers/caller';
import { getInvoice } from '../invoicing/get-invoices.service';
import type { StatusChangeEvent, StatusChangeHub } from './status-change-hub';

/**
 * Opens a live feed of status changes, filtered by the access rule at subscribe time, the same rule as the queries:
 * an invoice the caller may not see answers NOT_FOUND exactly like a missing one (so ids cannot be probed), and
 * another user's user id is FORBIDDEN, as for `invoices(userId)`. Admin and service callers watch any. With no
 * argument a user watches all of their invoices, an admin all invoices.
 */
export async function watchPaymentStatus(
  em: EntityManager,
  hub: StatusChangeHub,
  caller: Caller,
  input: { invoiceId?: string | null; userId?: string | null },
): Promise<AsyncIterableIterator<StatusChangeEvent>> {
  const userId = input.userId ? resolveSubject(caller, input.userId) : isPrivileged(caller) ? null : caller.userId;
  const invoiceId = input.invoiceId ? (await getInvoice(em, caller, input.invoiceId)).id : null;
  return hub.subscribe(
    (event) => (!invoiceId || event.invoiceId === invoiceId) && (!userId || event.userId === userId),
  );
}
