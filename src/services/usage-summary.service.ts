import type { EntityManager } from '@mikro-orm/postgresql';
import { Customer } from '../entities';
import type { BillingPeriod } from './billing-period';
import { parsePeriod } from './billing-period';
import type { Caller } from './caller';
import { resolveSubject } from './caller';
import { NotFoundError } from './errors';
import { getCurrentCustomer } from './get-current-customer.service';
import type { ComputedLine } from './invoice-lines';
import { computeInvoiceLines } from './invoice-lines';

export interface UsageSummary {
  userId: string;
  period: BillingPeriod;
  currency: string;
  lines: ComputedLine[];
  subtotalMinor: bigint;
  latePeriods: string[];
  generatedAt: Date;
}

/**
 * Cost so far for a period: the invoice preview, computed by the same code that creates invoices. A user sees
 * their own; admin and service callers any user's.
 */
export async function getUsageSummary(
  em: EntityManager,
  caller: Caller,
  input: { period: string; userId?: string | null },
  defaultCurrency: string,
  now = new Date(),
): Promise<UsageSummary> {
  const userId = resolveSubject(caller, input.userId);
  const period = parsePeriod(input.period);
  const customer =
    userId === caller.userId
      ? await getCurrentCustomer(em, caller)
      : await em.findOne(Customer, { externalUserId: userId });
  if (!customer) {
    throw new NotFoundError(`Customer "${userId}"`);
  }
  const currency = customer.currency ?? defaultCurrency;
  const computed = await computeInvoiceLines(em, customer.id, currency, period);
  return {
    userId,
    period,
    currency,
    lines: computed.lines,
    subtotalMinor: computed.subtotalMinor,
    latePeriods: computed.latePeriods,
    generatedAt: now,
  };
}
