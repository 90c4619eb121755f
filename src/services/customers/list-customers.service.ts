import type { EntityManager } from '@mikro-orm/postgresql';
import { Customer } from '../../entities';
import { Role } from '../../entities/enums';
import type { Caller } from './caller';
import { requireRole } from './caller';
import { BadInputError } from '../shared/errors';

export interface CustomerFilter {
  /** Part of the user id, e-mail or name, any case. */
  search?: string | null;
  first?: number | null;
  after?: string | null;
}

export interface CustomerPage {
  customers: Customer[];
  cursors: string[];
  hasNextPage: boolean;
  totalCount: number;
}

const MAX_SEARCH = 100;

/** A cursor is the user id (unique, and the order), opaque to clients: base64url. */
function encodeUserCursor(userId: string): string {
  return Buffer.from(userId).toString('base64url');
}

function decodeUserCursor(cursor: string): string {
  const userId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (userId.length === 0 || encodeUserCursor(userId) !== cursor) {
    throw new BadInputError('Invalid cursor', 'after');
  }
  return userId;
}

/**
 * Billing customers by user id (A to Z), as a Relay connection (admins only): `first` (1–100) after a cursor,
 * optionally only those whose user id, e-mail or name contains `search`.
 */
export async function listCustomers(
  em: EntityManager,
  caller: Caller,
  args: CustomerFilter = {},
): Promise<CustomerPage> {
  requireRole(caller, Role.ADMIN);
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) {
    throw new BadInputError('first must be between 1 and 100', 'first');
  }
  const where: Record<string, unknown> = {};
  const search = args.search?.trim();
  if (search) {
    if (search.length > MAX_SEARCH) {
      throw new BadInputError(`search must be at most ${MAX_SEARCH} characters`, 'search');
    }
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.$or = [
      { externalUserId: { $ilike: pattern } },
      { email: { $ilike: pattern } },
      { name: { $ilike: pattern } },
    ];
  }
  const totalCount = await em.count(Customer, where);
  const pageWhere: Record<string, unknown> = { ...where };
  if (args.after) {
    pageWhere.$and = [{ externalUserId: { $gt: decodeUserCursor(args.after) } }];
  }
  const rows = await em.find(Customer, pageWhere, { orderBy: { externalUserId: 'asc' }, limit: first + 1 });
  const customers = rows.slice(0, first);
  return {
    customers,
    cursors: customers.map((customer) => encodeUserCursor(customer.externalUserId)),
    hasNextPage: rows.length > first,
    totalCount,
  };
}
