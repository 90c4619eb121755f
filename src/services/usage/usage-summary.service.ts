import type { EntityManager } from '@mikro-orm/postgresql';
import { InvoiceLine } from '../../entities';
import { InvoiceLineKind } from '../../entities/enums';
import type { BillingPeriod } from '../billing-runs/billing-period';
import { parsePeriod } from '../billing-runs/billing-period';
import type { Caller } from '../customers/caller';
import { resolveSubject } from '../customers/caller';
import { NotFoundError, quote } from '../shared/errors';
import { getCurrentCustomer } from '../customers/get-current-customer.service';
import type { ComputedLine } from '../invoicing/invoice-lines';
import { computeInvoiceLines } from '../invoicing/invoice-lines';
import { previewStanding } from '../invoicing/invoice-repository';
import { sumMinor } from '../shared/money';

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
  let standing = await previewStanding(em, userId, period);
  if (!standing && userId === caller.userId) {
    // The caller's own customer is created the first time the user is seen.
    await getCurrentCustomer(em, caller);
    standing = await previewStanding(em, userId, period);
  }
  if (!standing) {
    throw new NotFoundError(`Customer ${quote(userId)}`);
  }
  // A period with an invoice (not VOID) shows that invoice's own lines, as stored when it was made. Usage of the
  // period that arrived after it is late usage, carried by a later invoice (and shown in later previews), never
  // added to this one.
  const invoiced = standing.invoice;
  if (invoiced) {
    const lines = (
      await em.find(InvoiceLine, { invoice: invoiced.id }, { populate: ['metric'], orderBy: { position: 'asc' } })
    ).map((line) => storedLine(line, period.key));
    return {
      userId,
      period,
      currency: invoiced.currency,
      lines,
      subtotalMinor: sumMinor(lines.map((l) => l.amountMinor)),
      latePeriods: [...new Set(lines.filter((l) => l.kind === InvoiceLineKind.ADJUSTMENT).map((l) => l.usagePeriod))],
      generatedAt: now,
    };
  }
  const currency = standing.currency ?? defaultCurrency;
  const computed = await computeInvoiceLines(
    em,
    standing.customerId,
    currency,
    period,
    undefined,
    standing.latePeriods,
  );
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

/** An invoice line as stored, in the shape of a computed one (older lines lack the billable quantity: use the quantity). */
function storedLine(line: InvoiceLine, period: string): ComputedLine {
  const metadata = (line.metadata ?? {}) as { usagePeriod?: string; billableQuantity?: string; unpriced?: boolean };
  return {
    kind: line.kind,
    usagePeriod: metadata.usagePeriod ?? period,
    metricId: line.metric?.id ?? '',
    metricCode: line.metric?.code ?? '',
    metricName: line.metric?.name ?? line.description,
    unit: line.metric?.unit ?? '',
    priceId: line.price?.id ?? null,
    description: line.description,
    quantity: line.quantity,
    billableQuantity: metadata.billableQuantity ?? line.quantity,
    unitAmount: line.unitAmount ?? null,
    amountMinor: line.amountMinor,
    unpriced: metadata.unpriced ?? (line.kind === InvoiceLineKind.USAGE && !line.price),
  };
}
