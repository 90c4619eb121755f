import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppConfig } from '../../config/config';
import { PaymentAttemptStatus, PaymentLimitScope } from '../../entities/enums';
import { sqlText } from '../shared/sql-values';

/** The limits in force (`PAYMENT_DECLINE_*`): a limit of 0 is off. */
export type AttemptLimitSettings = Pick<
  AppConfig['billing'],
  'invoiceDeclineLimit' | 'invoiceDeclineWindowSeconds' | 'userDeclineLimit' | 'userDeclineWindowSeconds'
>;

/** A limit reached: paying is refused until `resetsAt` (the oldest counted failure leaves the window) or a lift. */
export interface AttemptLimitBlock {
  scope: PaymentLimitScope;
  userId: string;
  /** Scope INVOICE: the invoice; null for a user's limit. */
  invoiceId: string | null;
  failedAttempts: number;
  limit: number;
  windowSeconds: number;
  resetsAt: Date;
}

/**
 * What counts as a failed attempt (card testing tries payment method after payment method): a decline, and a
 * payment method Stripe refused (`invalid_request`, `not_found`). Not counted: Stripe being busy, a total mismatch
 * or an invoice that was not payable, which say nothing about the card.
 */
const COUNTED = `pa.status = '${PaymentAttemptStatus.DECLINED}' and pa.error_code is not null and pa.error_code not in ('total_mismatch', 'rate_limited')`;

/** Lifts that reset a scope: an invoice's own, or its owner's (lifting a user lifts all of their invoices too). */
const LIFTS: Record<PaymentLimitScope, string> = {
  [PaymentLimitScope.INVOICE]: `(l.scope = 'INVOICE' and l.invoice_id = i.id) or (l.scope = 'USER' and l.customer_id = i.customer_id)`,
  [PaymentLimitScope.USER]: `l.scope = 'USER' and l.customer_id = i.customer_id`,
};

function limitOf(settings: AttemptLimitSettings, scope: PaymentLimitScope): { limit: number; windowSeconds: number } {
  return scope === PaymentLimitScope.INVOICE
    ? { limit: settings.invoiceDeclineLimit, windowSeconds: settings.invoiceDeclineWindowSeconds }
    : { limit: settings.userDeclineLimit, windowSeconds: settings.userDeclineWindowSeconds };
}

interface BlockRow {
  invoice_id: string | null;
  user_id: string;
  failed: number | string;
  nth: Date | string;
}

/**
 * The limits of `scope` reached at `now`, counted from `payment_attempts` (failures within the sliding window and
 * after the last lift), optionally for one invoice or one customer. The limit-th newest failure leaving the window
 * is when paying is allowed again. Times are the caller's clock (attempts are stamped with it too).
 */
export async function findAttemptLimitBlocks(
  em: EntityManager,
  settings: AttemptLimitSettings,
  scope: PaymentLimitScope,
  now: Date,
  filter: { invoiceId?: string; customerId?: string; userId?: string } = {},
): Promise<AttemptLimitBlock[]> {
  const { limit, windowSeconds } = limitOf(settings, scope);
  if (limit === 0) {
    return [];
  }
  const since = new Date(now.getTime() - windowSeconds * 1000).toISOString();
  const conditions = [COUNTED, `pa.created_at > ?::timestamptz`];
  const params: unknown[] = [limit, since];
  if (filter.invoiceId) {
    conditions.push('i.id = ?');
    params.push(filter.invoiceId);
  }
  if (filter.customerId) {
    conditions.push('i.customer_id = ?');
    params.push(filter.customerId);
  }
  if (filter.userId) {
    conditions.push('c.external_user_id = ?');
    params.push(filter.userId);
  }
  params.push(limit);
  const groupBy =
    scope === PaymentLimitScope.INVOICE ? 'i.id, c.external_user_id' : 'i.customer_id, c.external_user_id';
  const rows = await em.execute<BlockRow[]>(
    `select ${scope === PaymentLimitScope.INVOICE ? 'i.id' : 'null'} as invoice_id, c.external_user_id as user_id,
       count(*) as failed, (array_agg(pa.created_at order by pa.created_at desc))[?::int] as nth
     from payment_attempts pa
     join invoices i on i.id = pa.invoice_id
     join customers c on c.id = i.customer_id
     where ${conditions.join(' and ')}
       and pa.created_at > coalesce(
         (select max(l.lifted_at) from payment_limit_lifts l where ${LIFTS[scope]}), '-infinity'::timestamptz)
     group by ${groupBy}
     having count(*) >= ?
     order by nth`,
    params,
  );
  return rows.map((row) => ({
    scope,
    userId: row.user_id,
    invoiceId: row.invoice_id,
    failedAttempts: Number(row.failed),
    limit,
    windowSeconds,
    resetsAt: new Date(new Date(row.nth).getTime() + windowSeconds * 1000),
  }));
}

/** The first limit that stops paying this invoice now: the invoice's own, then its owner's. */
export async function attemptLimitBlocking(
  em: EntityManager,
  settings: AttemptLimitSettings,
  invoice: { id: string; customerId: string },
  now: Date,
): Promise<AttemptLimitBlock | null> {
  const [own] = await findAttemptLimitBlocks(em, settings, PaymentLimitScope.INVOICE, now, { invoiceId: invoice.id });
  if (own) {
    return own;
  }
  const [user] = await findAttemptLimitBlocks(em, settings, PaymentLimitScope.USER, now, {
    customerId: invoice.customerId,
  });
  return user ?? null;
}

/**
 * Takes the customer's payment attempts for the rest of the caller's transaction: whoever holds it is the only one
 * counting that customer's attempts and adding one. Paying two invoices of one user at once takes two different
 * invoice locks, so without this both could pass the user's last free attempt (the per-invoice count is exact under
 * the invoice's row lock). On PGlite (one session, transactions one at a time) it always succeeds at once.
 */
export async function lockCustomerAttempts(em: EntityManager, customerId: string): Promise<void> {
  await em.execute(`select pg_advisory_xact_lock(hashtextextended(?, 0))`, [`payment-attempts:customer:${customerId}`]);
}

/** A user's limit not reached yet, but within reach of the attempts in flight on their other invoices. */
export interface AttemptsInFlight {
  failedAttempts: number;
  inFlight: number;
  limit: number;
}

/**
 * Under `lockCustomerAttempts`: the user's failures in the window (after the last lift) and their attempts waiting
 * for Stripe's answer (pending, newer than `pendingSince`), when the two together reach the user's limit, else
 * null. Every attempt in flight may come back declined: one more could then pass the limit, so it waits for them.
 */
export async function userAttemptsInFlight(
  em: EntityManager,
  settings: AttemptLimitSettings,
  customerId: string,
  now: Date,
  pendingSince: Date,
): Promise<AttemptsInFlight | null> {
  const { limit, windowSeconds } = limitOf(settings, PaymentLimitScope.USER);
  if (limit === 0) {
    return null;
  }
  const since = new Date(now.getTime() - windowSeconds * 1000).toISOString();
  const [row] = await em.execute<Array<{ failed: number | string; in_flight: number | string }>>(
    `select
       count(*) filter (where ${COUNTED} and pa.created_at > ?::timestamptz and pa.created_at > coalesce(
         (select max(l.lifted_at) from payment_limit_lifts l where ${LIFTS[PaymentLimitScope.USER]}),
         '-infinity'::timestamptz)) as failed,
       count(*) filter (where pa.status = ${sqlText(PaymentAttemptStatus.PENDING)} and pa.created_at > ?::timestamptz)
         as in_flight
     from payment_attempts pa
     join invoices i on i.id = pa.invoice_id
     where i.customer_id = ?`,
    [since, pendingSince.toISOString(), customerId],
  );
  const failedAttempts = Number(row?.failed ?? 0);
  const inFlight = Number(row?.in_flight ?? 0);
  return inFlight > 0 && failedAttempts + inFlight >= limit ? { failedAttempts, inFlight, limit } : null;
}

export function describeBlock(block: AttemptLimitBlock): string {
  const window =
    block.windowSeconds % 3600 === 0 ? `${block.windowSeconds / 3600} h` : `${Math.ceil(block.windowSeconds / 60)} min`;
  const what = block.scope === PaymentLimitScope.INVOICE ? 'on this invoice' : 'on your invoices';
  return (
    `Too many failed payment attempts ${what} (${block.failedAttempts} in ${window}, limit ${block.limit}): ` +
    `paying is refused until ${block.resetsAt.toISOString()}, or until support lifts the limit`
  );
}
