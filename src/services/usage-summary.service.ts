import type { EntityManager } from '@mikro-orm/postgresql';
import { Customer, Invoice } from '../entities';
import { InvoiceStatus } from '../entities/enums';
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
 * Cost so far for a period: the invoice preview, computed by the same code that creates invoices — or, once the
 * period is invoiced, that invoice's lines. A user sees their own; admin and service callers any user's.
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
  // A period with an invoice (not VOID) shows that invoice: exactly the usage it billed. Usage of the period that
  // arrived after it is late usage, shown in the next period's summary as an adjustment, so it is never counted in
  // two summaries.
  const invoiced = await em.findOne(
    Invoice,
    { customer: customer.id, period: period.key, status: { $ne: InvoiceStatus.VOID } },
    { orderBy: { createdAt: 'desc' } },
  );
  const currency = invoiced?.currency ?? customer.currency ?? defaultCurrency;
  const computed = await computeInvoiceLines(em, customer.id, currency, period, invoiced?.id);
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
