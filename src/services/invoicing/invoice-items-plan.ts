import type { RemoteInvoiceItem } from '../../stripe';

/** One of our lines as the Stripe draft must carry it. */
export interface LineToAttach {
  id: string;
  amountMinor: bigint;
  currency: string;
  stripeInvoiceItemId?: string | null;
}

export interface ItemsPlan {
  /** Items found on the draft that carry a line whose stored id is another (or none): store these ids. */
  adopt: Array<{ lineId: string; itemId: string }>;
  /** Items to delete from the draft: a line of ours carried twice, a wrong amount, an item we did not make. */
  remove: string[];
  /**
   * Lines with no item on the draft: add one. `replaces` names the item the line had (deleted here or elsewhere),
   * so the re-add gets an idempotency key of its own instead of replaying the gone item's creation.
   */
  add: Array<{ lineId: string; replaces: string | null }>;
}

/**
 * What turns the items a Stripe draft carries into exactly our lines, one item each (pure). A line keeps the item
 * whose id we stored, else the first item made for it (metadata `agenthub_line_id`) with its exact amount and
 * currency; every other item on the draft goes, so the draft totals ours.
 */
export function planItems(invoiceId: string, lines: LineToAttach[], items: RemoteInvoiceItem[]): ItemsPlan {
  const plan: ItemsPlan = { adopt: [], remove: [], add: [] };
  const kept = new Set<string>();
  for (const line of lines) {
    const fits = (item: RemoteInvoiceItem): boolean =>
      item.invoiceId === invoiceId &&
      item.lineId === line.id &&
      item.amountMinor === line.amountMinor &&
      item.currency.toLowerCase() === line.currency.toLowerCase() &&
      !kept.has(item.id);
    const item = items.find((i) => fits(i) && i.id === line.stripeInvoiceItemId) ?? items.find(fits);
    if (item) {
      kept.add(item.id);
      if (item.id !== line.stripeInvoiceItemId) {
        plan.adopt.push({ lineId: line.id, itemId: item.id });
      }
      continue;
    }
    const previous =
      line.stripeInvoiceItemId ?? items.find((i) => i.invoiceId === invoiceId && i.lineId === line.id)?.id ?? null;
    plan.add.push({ lineId: line.id, replaces: previous });
  }
  plan.remove = items.filter((item) => !kept.has(item.id)).map((item) => item.id);
  return plan;
}
