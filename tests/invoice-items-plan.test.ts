import fc from 'fast-check';
import { PriceModel } from '../src/entities/enums';
import { planItems, stripeItemOf } from '../src/services/invoicing/invoice-items-plan';
import { decimal, decimalToString, mul, parseDecimal } from '../src/services/shared/decimal';
import { toMinorUnits } from '../src/services/shared/money';
import { priceQuantity } from '../src/services/usage/pricing';
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

describe('stripeItemOf: a line as its Stripe item reads, totalling exactly ours', () => {
  const usage = (over: Partial<Parameters<typeof stripeItemOf>[0]> = {}) => ({
    description: 'Agent runtime minutes',
    quantity: '1250.000000000000',
    billableQuantity: '1190',
    unitAmount: '0.020000000000',
    amountMinor: 2380n,
    currency: 'usd',
    ...over,
  });

  it('sends the billable quantity × the unit price in minor units, and names the free allowance', () => {
    expect(stripeItemOf(usage())).toEqual({
      description: 'Agent runtime minutes (1,250 used, 60 free)',
      pricing: { quantity: '1190', unitAmountDecimal: '2' },
    });
  });

  it('keeps the description of a line with nothing free, and sub-minor unit prices', () => {
    // 1,234,567 tokens × 0.000002 USD = 246.9134 cents → 247
    const shape = stripeItemOf(
      usage({
        description: 'Tokens',
        quantity: '1234567',
        billableQuantity: '1234567',
        unitAmount: '0.000002',
        amountMinor: 247n,
      }),
    );
    expect(shape).toEqual({ description: 'Tokens', pricing: { quantity: '1234567', unitAmountDecimal: '0.0002' } });
  });

  it('writes zero- and three-decimal unit prices in their minor unit (yen, fils)', () => {
    expect(
      stripeItemOf(
        usage({ currency: 'jpy', unitAmount: '0.3', billableQuantity: '1234', quantity: '1234', amountMinor: 370n }),
      ).pricing,
    ).toEqual({
      quantity: '1234',
      unitAmountDecimal: '0.3',
    });
    expect(
      stripeItemOf(
        usage({
          currency: 'kwd',
          unitAmount: '0.0025',
          billableQuantity: '1234',
          quantity: '1234',
          amountMinor: 3085n,
        }),
      ).pricing,
    ).toEqual({
      quantity: '1234',
      unitAmountDecimal: '2.5',
    });
    // 1,234 × 1.5 fils = 1851 fils, priced at 1850 (a card amount ends in 0): Stripe would round the product to 1851,
    // so the line goes as its amount alone.
    expect(
      stripeItemOf(
        usage({
          currency: 'kwd',
          unitAmount: '0.0015',
          billableQuantity: '1234',
          quantity: '1234',
          amountMinor: 1850n,
        }),
      ).pricing,
    ).toBeNull();
  });

  it('uses an average unit price when it multiplies back exactly, else falls back to the amount alone', () => {
    // A graduated price's average (1/3 USD, 12 digits) × 3 units = 99.9999999999 cents → 100: Stripe rounds to ours.
    const average = usage({ billableQuantity: '3', quantity: '3', unitAmount: '0.333333333333', amountMinor: 100n });
    expect(stripeItemOf(average).pricing).toEqual({ quantity: '3', unitAmountDecimal: '33.3333333333' });
    // A product that would not round to ours is never sent: the amount goes alone.
    expect(
      stripeItemOf(usage({ billableQuantity: '10', quantity: '10', unitAmount: '0.02', amountMinor: 520n })).pricing,
    ).toBeNull();
  });

  it('sends the amount alone for lines without a unit price (adjustments, nothing billable) or a known billable part', () => {
    expect(
      stripeItemOf(usage({ unitAmount: null, amountMinor: -120n, billableQuantity: '-60', quantity: '-60' })),
    ).toEqual({
      description: 'Agent runtime minutes',
      pricing: null,
    });
    expect(stripeItemOf(usage({ billableQuantity: null }))).toEqual({
      description: 'Agent runtime minutes',
      pricing: null,
    });
    expect(stripeItemOf(usage({ quantity: '50', billableQuantity: '0', unitAmount: null, amountMinor: 0n }))).toEqual({
      description: 'Agent runtime minutes (50 used, 50 free)',
      pricing: null,
    });
  });

  it('matches the pricing for every per-unit line it describes: quantity × unit rounded once is our amount', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 9n }),
        fc.integer({ min: 0, max: 6 }),
        fc.bigInt({ min: 0n, max: 10n ** 8n }),
        fc.integer({ min: 0, max: 10 }),
        fc.constantFrom('usd', 'jpy', 'kwd'),
        (q, qScale, u, uScale, currency) => {
          const quantity = decimalToString(decimal(q, qScale));
          const unitAmount = decimalToString(decimal(u, uScale));
          const amountMinor = priceQuantity(
            quantity,
            { model: PriceModel.PER_UNIT, unitAmount, freeAllowance: '0' },
            currency,
          ).amountMinor;
          const shape = stripeItemOf({
            description: 'x',
            quantity,
            billableQuantity: quantity,
            unitAmount,
            amountMinor,
            currency,
          });
          if (shape.pricing === null) {
            // Only where the line is rounded past Stripe's rounding: to 10 fils, a card amount ending in 0.
            expect(currency).toBe('kwd');
            expect(amountMinor % 10n).toBe(0n);
            return;
          }
          // Stripe's rounding of the product it is sent (half away from zero, in minor units).
          const stripeAmount = toMinorUnits(
            mul(parseDecimal(shape.pricing!.quantity), parseDecimal(shape.pricing!.unitAmountDecimal)),
            'jpy',
          );
          expect(stripeAmount).toBe(amountMinor);
        },
      ),
    );
  });
});
