import type { EntityManager } from '@mikro-orm/postgresql';
import type { Caller } from '../customers/caller';
import { isPrivileged, resolveSubject } from '../customers/caller';
import { BadInputError, NotFoundError, quote } from '../shared/errors';
import type { StatusChangeHub } from './status-change-hub';
import type { StatusChangeEvent } from './status-change-reader';
import { readStatusChanges } from './status-change-reader';
import { isUuid } from '../shared/uuid';

const CHANGE_ID = /^[0-9]{1,18}$/;
/** Changes replayed per read while resuming. */
const REPLAY_PAGE = 500;

/**
 * Opens a live feed of status changes, filtered by the access rule at subscribe time, the same rule as the queries:
 * an invoice the caller may not see answers NOT_FOUND exactly like a missing one (so ids cannot be probed), and
 * another user's user id is FORBIDDEN, as for `invoices(userId)`. Admin and service callers watch any. With no
 * argument a user watches all of their invoices, an admin all invoices.
 *
 * With `after` (the last change id the client saw) the feed first replays the changes after it from the status
 * history, under the same filter, then goes on live: it opens before the history is read and drops live changes the
 * replay already holds, so nothing is missed or repeated at the seam.
 */
export async function watchPaymentStatus(
  em: EntityManager,
  hub: StatusChangeHub,
  caller: Caller,
  input: { invoiceId?: string | null; userId?: string | null; after?: string | null },
): Promise<AsyncIterableIterator<StatusChangeEvent>> {
  const userId = input.userId ? resolveSubject(caller, input.userId) : isPrivileged(caller) ? null : caller.userId;
  const after = input.after ?? null;
  if (after !== null && !CHANGE_ID.test(after)) {
    throw new BadInputError('after must be a change id from an earlier event', 'after');
  }
  const invoiceId = input.invoiceId ? await accessibleInvoiceId(hub, caller, input.invoiceId) : null;
  const feed = hub.subscribe({ invoiceId, userId });
  if (after === null) {
    return feed;
  }
  try {
    const missed: StatusChangeEvent[] = [];
    let cursor = after;
    for (;;) {
      const page = await readStatusChanges(em.fork(), { after: cursor, invoiceId, userId, limit: REPLAY_PAGE });
      missed.push(...page);
      if (page.length < REPLAY_PAGE) {
        break;
      }
      cursor = page[page.length - 1].changeId;
    }
    feed.replay(missed);
    return feed;
  } catch (error) {
    feed.close();
    throw error;
  }
}

/**
 * The access rule of `findAccessibleInvoice`, with the invoice's owner only (read in batches by the hub), since
 * dashboards subscribe often and many at once, and the subscription itself reads the invoice when a change comes.
 */
async function accessibleInvoiceId(hub: StatusChangeHub, caller: Caller, invoiceId: string): Promise<string> {
  const id = invoiceId.toLowerCase();
  const owner = isUuid(id) ? await hub.invoiceOwner(id) : undefined;
  if (owner === undefined || (!isPrivileged(caller) && owner !== caller.userId)) {
    throw new NotFoundError(`Invoice ${quote(invoiceId)}`);
  }
  return id;
}
