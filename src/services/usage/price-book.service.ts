import type { EntityManager } from '@mikro-orm/postgresql';
import { LockMode } from '@mikro-orm/core';
import { BillableMetric, Customer, Price } from '../../entities';
import type { PriceTier } from '../../entities';
import type { PriceModel } from '../../entities/enums';
import { Role } from '../../entities/enums';
import { isSupportedCurrency } from '../../config/currencies';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { requireStorableDate } from '../shared/date-range';
import { BadInputError, NotFoundError, quote } from '../shared/errors';
import { validatePriceSpec } from './pricing';
import { lastInvoicedPeriodEnd } from '../invoicing/invoice-repository';

/** How far ahead a price version may start. */
export const MAX_YEARS_AHEAD = 5;

export interface SetPriceInput {
  metric: string;
  currency: string;
  /** Set for a per-customer override. */
  userId?: string | null;
  model: PriceModel;
  unitAmount?: string | null;
  packageSize?: string | null;
  tiers?: PriceTier[] | null;
  freeAllowance?: string | null;
  /** Default: now. Usage is priced by the version in force at its `occurredAt`. */
  effectiveFrom?: Date | null;
}

export interface PriceFilter {
  metric?: string | null;
  currency?: string | null;
  userId?: string | null;
  /** Closed versions too (the full history), not only those in force or scheduled. */
  includeHistory?: boolean | null;
}

/**
 * Adds a price version (admin). The version in force for the same metric, currency and customer is closed at the
 * new `effectiveFrom`, so history is kept row by row and a mid-period change applies by each event's time.
 */
export async function setPrice(
  em: EntityManager,
  caller: Caller,
  input: SetPriceInput,
  now = new Date(),
): Promise<Price> {
  requireRole(caller, Role.ADMIN);
  const currency = input.currency.toLowerCase();
  if (!isSupportedCurrency(currency)) {
    throw new BadInputError(`Unsupported currency ${quote(input.currency)}`, 'currency');
  }
  const spec = {
    model: input.model,
    unitAmount: input.unitAmount ?? null,
    packageSize: input.packageSize ?? null,
    tiers: input.tiers ?? null,
    freeAllowance: input.freeAllowance ?? '0',
  };
  const problems = validatePriceSpec(spec, currency);
  if (problems.length > 0) {
    throw new BadInputError(
      `Invalid price: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems[0].field,
    );
  }
  const effectiveFrom = requireStorableDate(input.effectiveFrom ?? now, 'effectiveFrom');
  const latestAllowed = new Date(now.getTime());
  latestAllowed.setUTCFullYear(latestAllowed.getUTCFullYear() + MAX_YEARS_AHEAD);
  if (effectiveFrom.getTime() > latestAllowed.getTime()) {
    // Versions only append: a date decades ahead would leave no room for any later version of this price.
    throw new BadInputError(`effectiveFrom must be at most ${MAX_YEARS_AHEAD} years ahead`, 'effectiveFrom');
  }

  return em.transactional(async (tem) => {
    // Serialises price changes of one metric, so two admins cannot both close the same version.
    const metric = await tem.findOne(BillableMetric, { code: input.metric }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!metric) {
      throw new NotFoundError(`Metric ${quote(input.metric)}`);
    }
    let customer: Customer | null = null;
    if (input.userId) {
      customer = await tem.findOne(Customer, { externalUserId: input.userId });
      if (!customer) {
        throw new NotFoundError(`Customer ${quote(input.userId)}`);
      }
    }
    // Invoiced periods keep the prices they were invoiced at (their late usage is priced the same way): a version
    // may not start before the end of the last period invoiced (not VOID) with this metric in this currency.
    const frozenUntil = await lastInvoicedPeriodEnd(tem, {
      currency,
      customerId: customer?.id ?? null,
      metricId: metric.id,
    });
    if (frozenUntil && frozenUntil.getTime() > effectiveFrom.getTime()) {
      throw new BadInputError(
        `effectiveFrom must not be before ${frozenUntil.toISOString()}: earlier periods are invoiced ` +
          'with this metric, and an invoice keeps the prices it was made with',
        'effectiveFrom',
      );
    }
    const latest = await tem.findOne(Price, { metric, currency, customer }, { orderBy: { effectiveFrom: 'desc' } });
    if (latest && latest.effectiveFrom.getTime() >= effectiveFrom.getTime()) {
      throw new BadInputError(
        `effectiveFrom must be after the latest version's (${latest.effectiveFrom.toISOString()})`,
        'effectiveFrom',
      );
    }
    if (latest && (!latest.effectiveTo || latest.effectiveTo.getTime() > effectiveFrom.getTime())) {
      latest.effectiveTo = effectiveFrom;
    }
    const price = tem.create(Price, {
      metric,
      currency,
      customer,
      model: spec.model,
      unitAmount: spec.unitAmount,
      packageSize: spec.packageSize,
      tiers: spec.tiers,
      freeAllowance: spec.freeAllowance,
      effectiveFrom,
      effectiveTo: null,
      createdBy: caller.userId,
    });
    await tem.flush();
    return price;
  });
}

/** The price book (admin): versions in force or scheduled, or the whole history. */
export async function listPrices(
  em: EntityManager,
  caller: Caller,
  filter: PriceFilter,
  now = new Date(),
): Promise<Price[]> {
  requireRole(caller, Role.ADMIN);
  const where: Record<string, unknown> = {};
  if (filter.metric) {
    where.metric = { code: filter.metric };
  }
  if (filter.currency) {
    where.currency = filter.currency.toLowerCase();
  }
  if (filter.userId) {
    where.customer = { externalUserId: filter.userId };
  }
  if (!filter.includeHistory) {
    where.$or = [{ effectiveTo: null }, { effectiveTo: { $gt: now } }];
  }
  return em.find(Price, where, {
    populate: ['metric', 'customer'],
    orderBy: { metric: { code: 'asc' }, currency: 'asc', effectiveFrom: 'asc' },
  });
}
