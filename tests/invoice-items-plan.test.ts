import { planItems } from '../src/services/invoicing/invoice-items-plan';
import type { RemoteInvoiceItem } from '../src/stripe';

const INVOICE = 'inv-1';
const line = (id: string, amountMinor: bigint, stripeInvoiceItemId: string | null = null) => ({
  id,
  amountMinor,
  currency: 'usd',
  stripeInvoiceItemId,
});
const item = (id: string, lineId: string | null, amountMinor: bigint, invoiceId: string | null = INVOICE) =>
  ({ id, invoiceId, lineId, amountMinor, currency: 'usd' }) satisfies RemoteInvoiceItem;

describe('planItems: what turns a Stripe draft into exactly our lines', () => {
  it('adds every line to an empty draft with its plain key', () => {
    expect(planItems(INVOICE, [line('a', 100n), line('b', 200n)], [])).toEqual({
      adopt: [],
      remove: [],
      add: [
        { lineId: 'a', replaces: null },
        { lineId: 'b', replaces: null },
      ],
    });
  });

  it('adopts an item whose id was never stored and adds only what is missing', () => {
    expect(planItems(INVOICE, [line('a', 100n), line('b', 200n)], [item('ii_a', 'a', 100n)])).toEqual({
      adopt: [{ lineId: 'a', itemId: 'ii_a' }],
      remove: [],
      add: [{ lineId: 'b', replaces: null }],
    });
  });

  it('keeps the stored item of a line carried twice and removes the copy', () => {
    const items = [item('ii_copy', 'a', 100n), item('ii_a', 'a', 100n)];
    expect(planItems(INVOICE, [line('a', 100n, 'ii_a')], items)).toEqual({ adopt: [], remove: ['ii_copy'], add: [] });
  });

  it('removes items we did not make, of another invoice of ours, or of an unknown line', () => {
    const items = [
      item('ii_a', 'a', 100n),
      item('ii_hand', null, 1500n, null),
      item('ii_other', 'a', 100n, 'inv-2'),
      item('ii_gone_line', 'zz', 50n),
    ];
    expect(planItems(INVOICE, [line('a', 100n, 'ii_a')], items)).toEqual({
      adopt: [],
      remove: ['ii_hand', 'ii_other', 'ii_gone_line'],
      add: [],
    });
  });

  it('replaces an item with the wrong amount, or one that is gone, under a key of its own', () => {
    const items = [item('ii_wrong', 'a', 999n)];
    expect(planItems(INVOICE, [line('a', 100n), line('b', 200n, 'ii_deleted')], items)).toEqual({
      adopt: [],
      remove: ['ii_wrong'],
      add: [
        { lineId: 'a', replaces: 'ii_wrong' },
        { lineId: 'b', replaces: 'ii_deleted' },
      ],
    });
  });
});
