import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { dunningOfInvoices } from '../services/dunning/get-dunning.service';
import type { InvoiceDunning } from '../services/dunning/get-dunning.service';

/**
 * Per-operation batches of per-invoice fields that do not come with the invoice's own read: every `Invoice.dunning`
 * of one operation (a page of invoices, a list of events) is read in one statement, not one per invoice. A new set
 * per operation, so nothing is cached beyond it.
 */
export interface RequestLoaders {
  dunning: DataLoader<string, InvoiceDunning | null>;
}

export function createLoaders(em: () => EntityManager): RequestLoaders {
  return {
    dunning: new DataLoader(async (invoiceIds: readonly string[]) => {
      const found = await dunningOfInvoices(em(), [...invoiceIds]);
      return invoiceIds.map((id) => found.get(id) ?? null);
    }),
  };
}
