import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../../config/logger';
import { Customer, Invoice, PaymentLimitLift } from '../../entities';
import { PaymentLimitScope, Role } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { BadInputError, NotFoundError } from '../shared/errors';
import { isUuid } from '../shared/uuid';
import { findAttemptLimitBlocks } from './payment-attempt-limits';
import type { AttemptLimitBlock, AttemptLimitSettings } from './payment-attempt-limits';

export interface PaymentLimitsDeps {
  em: EntityManager;
  config: { billing: AttemptLimitSettings };
  /** The caller's clock. */
  now: Date;
  log?: Logger;
}

export interface LiftRecord {
  id: string;
  scope: PaymentLimitScope;
  userId: string;
  invoiceId: string | null;
  liftedBy: string;
  reason: string | null;
  liftedAt: Date;
}

/** Admins: every payment attempt limit reached now (per invoice, then per user), optionally for one user. */
export async function listPaymentAttemptBlocks(
  deps: PaymentLimitsDeps,
  caller: Caller,
  filter: { userId?: string | null },
): Promise<AttemptLimitBlock[]> {
  requireRole(caller, Role.ADMIN);
  const userId = filter.userId ?? undefined;
  const [invoices, users] = await Promise.all(
    [PaymentLimitScope.INVOICE, PaymentLimitScope.USER].map((scope) =>
      findAttemptLimitBlocks(deps.em.fork(), deps.config.billing, scope, deps.now, { userId }),
    ),
  );
  return [...invoices, ...users];
}

/**
 * Admins: lifts the limit of one invoice or of one user (and all of their invoices): failed attempts before now
 * stop counting. Recorded with who lifted it and why, and logged; the attempts themselves are kept.
 */
export async function liftPaymentAttemptLimit(
  deps: PaymentLimitsDeps,
  caller: Caller,
  input: { invoiceId?: string | null; userId?: string | null; reason?: string | null },
): Promise<LiftRecord> {
  requireRole(caller, Role.ADMIN);
  if (Boolean(input.invoiceId) === Boolean(input.userId)) {
    throw new BadInputError('Name exactly one of invoiceId (one invoice) or userId (all of a user’s)', 'invoiceId');
  }
  const reason = input.reason?.trim() || null;
  if (reason !== null && reason.length > 500) {
    throw new BadInputError('reason must be at most 500 characters', 'reason');
  }
  const em = deps.em.fork();
  let customer: Customer;
  let invoice: Invoice | null = null;
  if (input.invoiceId) {
    invoice = isUuid(input.invoiceId)
      ? await em.findOne(Invoice, { id: input.invoiceId }, { populate: ['customer'] })
      : null;
    if (!invoice) {
      throw new NotFoundError('No such invoice');
    }
    customer = invoice.customer;
  } else {
    const found = await em.findOne(Customer, { externalUserId: input.userId as string });
    if (!found) {
      throw new NotFoundError('No such user');
    }
    customer = found;
  }
  const lift = em.create(PaymentLimitLift, {
    scope: invoice ? PaymentLimitScope.INVOICE : PaymentLimitScope.USER,
    customer,
    invoice,
    liftedBy: caller.userId,
    reason,
    liftedAt: deps.now,
  });
  await em.flush();
  deps.log?.info(
    { scope: lift.scope, userId: customer.externalUserId, invoiceId: invoice?.id ?? null, liftedBy: caller.userId },
    'payment attempt limit lifted',
  );
  return {
    id: lift.id,
    scope: lift.scope,
    userId: customer.externalUserId,
    invoiceId: invoice?.id ?? null,
    liftedBy: lift.liftedBy,
    reason,
    liftedAt: lift.liftedAt,
  };
}
