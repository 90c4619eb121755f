import type { EntityManager } from '@mikro-orm/postgresql';
import type { RemoteEvent, RemoteInvoice, StripeGateway } from '../../stripe';
import type { BillingPeriod } from '../billing-runs/billing-period';
import { knownInvoiceIds } from '../invoicing/invoice-repository';

export interface ReconcileOrphan {
  stripeInvoiceId: string;
  /** Our invoice id from the Stripe metadata (no such row here). */
  ourInvoiceId: string | null;
  number: string | null;
  status: string | null;
  amountDueMinor: number;
  currency: string;
}

/**
 * Stripe invoices of the period that carry our metadata but have no local row (neither by our id nor by Stripe id),
 * e.g. left by a database restored from an older backup. Found through the `invoice.created` events since the period
 * ended (invoices of a period are created after it ends; the caller lists them): Stripe keeps events for 30 days, so
 * older ones are not seen.
 */
export async function findOrphans(
  em: EntityManager,
  gateway: StripeGateway,
  period: BillingPeriod,
  events: RemoteEvent[],
): Promise<ReconcileOrphan[]> {
  const candidates = new Map<string, RemoteInvoice>();
  for (const event of events) {
    if (event.type !== 'invoice.created' || event.object.kind !== 'invoice') {
      continue;
    }
    const invoice = event.object.invoice;
    if (invoice.ours.period === period.key && invoice.ours.invoiceId) {
      candidates.set(invoice.id, invoice);
    }
  }
  if (candidates.size === 0) {
    return [];
  }
  const stripeIds = [...candidates.keys()];
  const ourIds = [...candidates.values()].map((i) => i.ours.invoiceId as string);
  const knownIds = await knownInvoiceIds(em, stripeIds, ourIds);
  const orphans: ReconcileOrphan[] = [];
  for (const [stripeId, snapshot] of candidates) {
    const ourId = snapshot.ours.invoiceId;
    if (knownIds.has(stripeId) || (ourId && knownIds.has(ourId))) {
      continue;
    }
    // The event holds the invoice as created; its current state is what an operator needs.
    const current = await gateway.retrieveInvoice(stripeId).catch(() => snapshot);
    orphans.push({
      stripeInvoiceId: stripeId,
      ourInvoiceId: ourId,
      number: current.number ?? snapshot.ours.number,
      status: current.status,
      // A number in the report, which is printed as JSON (Stripe's amounts are safe integers).
      amountDueMinor: Number(current.amountDueMinor),
      currency: current.currency,
    });
  }
  return orphans;
}
