import fc from 'fast-check';
import { PriceModel } from '../src/entities/enums';
import type { PriceTier } from '../src/entities/price.entity';
import { add, compare, decimal, decimalToString, parseDecimal, sub } from '../src/services/shared/decimal';
import { formatMoney } from '../src/services/shared/money';
import { chargeStepMinor } from '../src/config/currencies';
import type { PriceProblem, PriceSpec, UsageSegment } from '../src/services/usage/pricing';
import { invoiceTotal, priceQuantity, priceUsage, validatePriceSpec } from '../src/services/usage/pricing';

const perUnit = (unitAmount: string, freeAllowance = '0'): PriceSpec => ({
  model: PriceModel.PER_UNIT,
  unitAmount,
  freeAllowance,
});
const packaged = (unitAmount: string, packageSize: string, freeAllowance = '0'): PriceSpec => ({
  model: PriceModel.PACKAGE,
  unitAmount,
  packageSize,
  freeAllowance,
});
const graduated = (tiers: PriceTier[], freeAllowance = '0'): PriceSpec => ({
  model: PriceModel.GRADUATED,
  tiers,
  freeAllowance,
});
const volume = (tiers: PriceTier[], freeAllowance = '0'): PriceSpec => ({
  model: PriceModel.VOLUME,
  tiers,
  freeAllowance,
});

/** 0.10 up to 100 (+5 flat), 0.05 up to 1000 (+10 flat), then 0.01 with no flat fee. */
const GRADUATED_TIERS: PriceTier[] = [
  { upTo: '100', unitAmount: '0.10', flatAmount: '5' },
  { upTo: '1000', unitAmount: '0.05', flatAmount: '10' },
  { upTo: null, unitAmount: '0.01' },
];

/** All units at 1.00 (+10 flat) when the total is ≤ 100, else all at 0.50 (+20 flat). */
const VOLUME_TIERS: PriceTier[] = [
  { upTo: '100', unitAmount: '1', flatAmount: '10' },
  { upTo: null, unitAmount: '0.50', flatAmount: '20' },
];

describe('per_unit', () => {
  it('prices fractional-cent token prices and rounds once', () => {
    // 1,234,567 × 0.000002 = 2.469134 USD = 246.9134 cents → 247
    // toStrictEqual: these fields and no others (no `priceId` key when the price has no id)
    expect(priceQuantity('1234567', perUnit('0.000002'), 'usd')).toStrictEqual({
      quantity: '1234567',
      billableQuantity: '1234567',
      unitAmount: '0.000002',
      amountMinor: 247n,
      exactAmount: '2.469134',
    });
  });

  it('rounds exactly half a cent up, and just under half down', () => {
    // 2,500 × 0.000002 = 0.005 = 0.5 cent → 1
    expect(priceQuantity('2500', perUnit('0.000002'), 'usd').amountMinor).toBe(1n);
    // 2,499 × 0.000002 = 0.004998 = 0.4998 cent → 0
    expect(priceQuantity('2499', perUnit('0.000002'), 'usd').amountMinor).toBe(0n);
    // 7,500 × 0.000002 = 0.015 = 1.5 cents → 2 (half-up, not banker's rounding to even)
    expect(priceQuantity('7500', perUnit('0.000002'), 'usd').amountMinor).toBe(2n);
  });

  it('prices fractional quantities and keeps PostgreSQL text forms canonical', () => {
    // 1.5 × 12.5 = 18.75 USD → 1875
    expect(priceQuantity('1.500000000000', perUnit('12.500000000000'), 'usd')).toMatchObject({
      quantity: '1.5',
      billableQuantity: '1.5',
      unitAmount: '12.5',
      amountMinor: 1875n,
    });
  });

  it('has a null unit amount and zero amount for zero usage', () => {
    expect(priceQuantity('0', perUnit('0.01'), 'usd')).toEqual({
      quantity: '0',
      billableQuantity: '0',
      unitAmount: null,
      amountMinor: 0n,
      exactAmount: '0',
    });
  });
});

describe('graduated', () => {
  it.each([
    // [0,100) all in tier 1: 100 × 0.10 + 5 = 15.00; tier 2 is not entered at exactly upTo = 100
    ['100', 1500n],
    // 15 + 1 × 0.05 + 10 (tier 2 entered) = 25.05
    ['101', 2505n],
    // 15 + 900 × 0.05 + 10 = 70.00; tier 3 not entered at exactly upTo = 1000
    ['1000', 7000n],
    // 70 + 1 × 0.01 (tier 3 has no flat fee) = 70.01
    ['1001', 7001n],
    // 15 + 0.5 × 0.05 + 10 = 25.025 → 2502.5 cents → 2503
    ['100.5', 2503n],
    // 1 × 0.10 + 5 = 5.10: the first tier's flat fee comes with the first unit
    ['1', 510n],
    // no usage enters no tier: no flat fee
    ['0', 0n],
  ])('%s units → %p cents', (quantity, cents) => {
    expect(priceQuantity(quantity, graduated(GRADUATED_TIERS), 'usd').amountMinor).toBe(cents);
  });

  it('shows the effective unit price rounded to 12 digits', () => {
    // 25.05 / 101 = 0.24801980198019… → 0.248019801980 → canonical "0.24801980198"
    expect(priceQuantity('101', graduated(GRADUATED_TIERS), 'usd')).toMatchObject({
      billableQuantity: '101',
      unitAmount: '0.24801980198',
      exactAmount: '25.05',
    });
  });

  it('applies a free allowance before the tiers', () => {
    // allowance 50: billable 100 → all in tier 1: 100 × 0.10 + 5 = 15.00
    expect(priceQuantity('150', graduated(GRADUATED_TIERS, '50'), 'usd')).toMatchObject({
      billableQuantity: '100',
      amountMinor: 1500n,
    });
    // usage within the allowance: nothing billable, no flat fee
    expect(priceQuantity('50', graduated(GRADUATED_TIERS, '50'), 'usd')).toMatchObject({
      billableQuantity: '0',
      unitAmount: null,
      amountMinor: 0n,
    });
  });
});

describe('volume', () => {
  it.each([
    // total 100 ≤ upTo 100 → tier 1 for all units: 100 × 1 + 10 = 110.00
    ['100', 11000n, '1.1'],
    // total 101 > 100 → tier 2 for all units: 101 × 0.50 + 20 = 70.50 (cheaper than 100: that is volume pricing)
    ['101', 7050n, '0.69801980198'], // 70.5 / 101 = 0.698019801980|19… (trailing zero dropped)
    // 100.5 → tier 2: 50.25 + 20 = 70.25
    ['100.5', 7025n, '0.699004975124'],
    // 1 → tier 1: 1 + 10 = 11.00
    ['1', 1100n, '11'],
    ['0', 0n, null],
  ])('%s units → %p cents (unit %s)', (quantity, cents, unitAmount) => {
    expect(priceQuantity(quantity, volume(VOLUME_TIERS), 'usd')).toMatchObject({ amountMinor: cents, unitAmount });
  });

  it('chooses the tier by the billable total after the allowance', () => {
    // 150 used, 50 free → billable 100 → tier 1: 100 × 1 + 10 = 110.00
    expect(priceQuantity('150', volume(VOLUME_TIERS, '50'), 'usd').amountMinor).toBe(11000n);
  });
});

describe('package', () => {
  it.each([
    ['1001', '2', 500n], // ⌈1001 / 1000⌉ = 2 packages × 2.50 = 5.00
    ['1000', '1', 250n], // exactly one package
    ['1', '1', 250n], // a started package is charged whole
    ['0', null, 0n],
  ])('%s units in packages of 1000 at 2.50 → %p cents', (quantity, _packages, cents) => {
    expect(priceQuantity(quantity, packaged('2.50', '1000'), 'usd').amountMinor).toBe(cents);
  });

  it('counts packages on the billable quantity and shows the per-unit average', () => {
    // 1,500 used, 1,000 free → billable 500 → 1 package = 2.50; 2.50 / 500 = 0.005 per unit
    expect(priceQuantity('1500', packaged('2.50', '1000', '1000'), 'usd')).toMatchObject({
      billableQuantity: '500',
      unitAmount: '0.005',
      amountMinor: 250n,
    });
  });
});

describe('free allowance larger than usage', () => {
  it.each([
    ['per_unit', perUnit('0.01', '1000')],
    ['graduated', graduated(GRADUATED_TIERS, '1000')],
    ['volume', volume(VOLUME_TIERS, '1000')],
    ['package', packaged('2.50', '10', '1000')],
  ])('%s bills nothing for 400 units with 1,000 free, never a negative amount', (_model, price) => {
    expect(priceQuantity('400', price, 'usd')).toEqual({
      quantity: '400',
      billableQuantity: '0',
      unitAmount: null,
      amountMinor: 0n,
      exactAmount: '0',
    });
  });
});

describe('a price change in the middle of the period', () => {
  const v1 = graduated([
    { upTo: '100', unitAmount: '0.10', flatAmount: '5' },
    { upTo: null, unitAmount: '0.05', flatAmount: '10' },
  ]);
  const v2 = graduated([
    { upTo: '100', unitAmount: '0.20', flatAmount: '7' },
    { upTo: null, unitAmount: '0.08', flatAmount: '12' },
  ]);

  it('continues graduated tiers across segments; each flat fee is charged by the segment entering the tier', () => {
    const lines = priceUsage(
      [
        { quantity: '80', price: { ...v1, id: 'price_v1' } },
        { quantity: '50', price: { ...v2, id: 'price_v2' } },
      ],
      'usd',
    );
    // v1 on [0, 80): 80 × 0.10 + 5 (enters tier 1) = 13.00
    // v2 on [80, 130): 20 × 0.20 + 30 × 0.08 + 12 (enters tier 2 at 100) = 4 + 2.40 + 12 = 18.40
    expect(lines).toEqual([
      {
        quantity: '80',
        billableQuantity: '80',
        unitAmount: '0.1625',
        amountMinor: 1300n,
        exactAmount: '13',
        priceId: 'price_v1',
      },
      {
        quantity: '50',
        billableQuantity: '50',
        unitAmount: '0.368',
        amountMinor: 1840n,
        exactAmount: '18.4',
        priceId: 'price_v2',
      },
    ]);
    expect(invoiceTotal(lines)).toBe(3140n);
  });

  it('charges the next tier to the later segment when the change falls exactly on a bound', () => {
    const lines = priceUsage(
      [
        { quantity: '100', price: v1 },
        { quantity: '10', price: v2 },
      ],
      'usd',
    );
    // v1 on [0, 100): 100 × 0.10 + 5 = 15.00 (tier 2 not entered: 100 is tier 1's inclusive bound)
    // v2 on [100, 110): 10 × 0.08 + 12 = 12.80
    expect(lines.map((line) => line.amountMinor)).toEqual([1500n, 1280n]);
  });

  it('chooses one volume tier from the period total and charges its flat fee once, in the last segment', () => {
    const w1 = volume([
      { upTo: '100', unitAmount: '1' },
      { upTo: null, unitAmount: '0.50', flatAmount: '20' },
    ]);
    const w2 = volume([
      { upTo: '100', unitAmount: '2' },
      { upTo: null, unitAmount: '0.75', flatAmount: '30' },
    ]);
    // total 120 > 100 → tier 2 of each version; 60 × 0.50 = 30.00; 60 × 0.75 + 30 = 75.00
    const lines = priceUsage(
      [
        { quantity: '60', price: w1 },
        { quantity: '60', price: w2 },
      ],
      'usd',
    );
    expect(lines.map((line) => line.amountMinor)).toEqual([3000n, 7500n]);
  });

  it('gives a package to the segment where its first unit falls', () => {
    // [0, 1500): packages starting at 0 and 1000 → 2 × 2.50 = 5.00
    // [1500, 2500): the package starting at 2000 → 1 × 3.00 = 3.00 (3 packages for 2,500 units in all)
    const lines = priceUsage(
      [
        { quantity: '1500', price: packaged('2.50', '1000') },
        { quantity: '1000', price: packaged('3.00', '1000') },
      ],
      'usd',
    );
    expect(lines.map((line) => line.amountMinor)).toEqual([500n, 300n]);
    // [1500, 1900) starts no package (the one started at 1000 already covers it): 0 packages, 2 for 1,900 units
    const tail = priceUsage(
      [
        { quantity: '1500', price: packaged('2.50', '1000') },
        { quantity: '400', price: packaged('3.00', '1000') },
      ],
      'usd',
    );
    expect(tail.map((line) => [line.billableQuantity, line.unitAmount, line.amountMinor])).toEqual([
      ['1500', '0.003333333333', 500n], // 5.00 / 1500 = 0.0033333… per unit, for display
      ['400', '0', 0n],
    ]);
  });

  it('shifts each segment by its own price version free allowance', () => {
    // v1 (100 free) on [0, 60): wholly free. v2 (50 free) on [60, 120) → billable [10, 70): 60 × 0.02 = 1.20
    const lines = priceUsage(
      [
        { quantity: '60', price: perUnit('0.01', '100') },
        { quantity: '60', price: perUnit('0.02', '50') },
      ],
      'usd',
    );
    expect(lines.map((line) => [line.billableQuantity, line.amountMinor])).toEqual([
      ['0', 0n],
      ['60', 120n],
    ]);
  });

  it('keeps a zero-usage segment as a zero line', () => {
    const lines = priceUsage(
      [
        { quantity: '0', price: v1 },
        { quantity: '1', price: v2 },
      ],
      'usd',
    );
    // v2 on [0, 1): 1 × 0.20 + 7 = 7.20; v1 entered no tier, so it charges no flat fee
    expect(lines.map((line) => line.amountMinor)).toEqual([0n, 720n]);
  });
});

describe('currencies', () => {
  it('prices JPY in whole yen', () => {
    // 1,234 × 0.3 = 370.2 yen → 370
    const line = priceQuantity('1234', perUnit('0.3'), 'jpy');
    expect(line.amountMinor).toBe(370n);
    expect(formatMoney(line.amountMinor, 'jpy')).toBe('¥370');
    // 5 × 0.1 = 0.5 yen → 1 (half-up)
    expect(priceQuantity('5', perUnit('0.1'), 'jpy').amountMinor).toBe(1n);
    // graduated: 100 × 10 + 500 flat = 1,500 yen; + 1 × 8 + 0 = 1,508
    const tiers: PriceTier[] = [
      { upTo: '100', unitAmount: '10', flatAmount: '500' },
      { upTo: null, unitAmount: '8' },
    ];
    expect(formatMoney(priceQuantity('100', graduated(tiers), 'JPY').amountMinor, 'jpy')).toBe('¥1,500');
    expect(priceQuantity('101', graduated(tiers), 'jpy').amountMinor).toBe(1508n);
  });

  it('prices KWD in fils (3 decimals), rounded to 10 fils: Stripe charges a card only amounts whose last digit is 0', () => {
    // 1,234 × 0.0015 = 1.851 KWD = 1851 fils → 1850
    const line = priceQuantity('1234', perUnit('0.0015'), 'kwd');
    expect(line.amountMinor).toBe(1850n);
    expect(line.exactAmount).toBe('1.851');
    expect(formatMoney(line.amountMinor, 'kwd')).toBe('KWD\u00a01.850');
    // 1 × 0.005 = 5 fils → 10 (half up); 3 × 0.0035 = 10.5 fils → 10; the other three-decimal currencies alike
    expect(priceQuantity('1', perUnit('0.005'), 'kwd').amountMinor).toBe(10n);
    expect(priceQuantity('3', perUnit('0.0035'), 'bhd').amountMinor).toBe(10n);
    expect(priceQuantity('1234', perUnit('0.0015'), 'tnd').amountMinor).toBe(1850n);
  });

  it('formats a USD line', () => {
    // 1,234,567 × 0.000002 → 247 cents
    expect(formatMoney(priceQuantity('1234567', perUnit('0.000002'), 'usd').amountMinor, 'usd')).toBe('$2.47');
  });

  it('rejects an unsupported currency', () => {
    expect(() => priceQuantity('1', perUnit('1'), 'xxx')).toThrow(RangeError);
  });
});

describe('validatePriceSpec', () => {
  const fields = (spec: PriceSpec, currency = 'usd'): string[] =>
    validatePriceSpec(spec, currency).map((problem) => problem.field);

  it('accepts valid specs of every model', () => {
    expect(validatePriceSpec(perUnit('0.000002'), 'usd')).toEqual([]);
    expect(validatePriceSpec(packaged('2.50', '1000', '10'), 'usd')).toEqual([]);
    expect(validatePriceSpec(graduated(GRADUATED_TIERS), 'usd')).toEqual([]);
    expect(validatePriceSpec(volume(VOLUME_TIERS), 'jpy')).toEqual([]);
    expect(validatePriceSpec(graduated([{ upTo: null, unitAmount: '0' }]), 'usd')).toEqual([]); // free tier is fine
  });

  it.each<[string, PriceSpec, string[]]>([
    ['missing unitAmount', { model: PriceModel.PER_UNIT, freeAllowance: '0' }, ['unitAmount']],
    [
      'null unitAmount',
      { model: PriceModel.PACKAGE, unitAmount: null, packageSize: '10', freeAllowance: '0' },
      ['unitAmount'],
    ],
    ['negative unitAmount', perUnit('-0.01'), ['unitAmount']],
    ['exponent notation', perUnit('1e-6'), ['unitAmount']],
    ['negative allowance', perUnit('1', '-1'), ['freeAllowance']],
    ['zero packageSize', packaged('1', '0'), ['packageSize']],
    ['negative packageSize', packaged('1', '-5'), ['packageSize']],
    ['missing packageSize', { model: PriceModel.PACKAGE, unitAmount: '1', freeAllowance: '0' }, ['packageSize']],
    ['no tiers', graduated([]), ['tiers']],
    ['null tiers', { model: PriceModel.VOLUME, tiers: null, freeAllowance: '0' }, ['tiers']],
    [
      'unsorted tiers',
      graduated([
        { upTo: '100', unitAmount: '1' },
        { upTo: '50', unitAmount: '1' },
        { upTo: null, unitAmount: '1' },
      ]),
      ['tiers[1].upTo'],
    ],
    [
      'duplicate bounds',
      volume([
        { upTo: '100', unitAmount: '1' },
        { upTo: '100.000', unitAmount: '1' },
        { upTo: null, unitAmount: '1' },
      ]),
      ['tiers[1].upTo'],
    ],
    [
      'last upTo not null',
      graduated([
        { upTo: '100', unitAmount: '1' },
        { upTo: '200', unitAmount: '1' },
      ]),
      ['tiers[1].upTo'],
    ],
    [
      'open-ended tier before the last',
      graduated([
        { upTo: null, unitAmount: '1' },
        { upTo: null, unitAmount: '1' },
      ]),
      ['tiers[0].upTo'],
    ],
    [
      'zero bound',
      graduated([
        { upTo: '0', unitAmount: '1' },
        { upTo: null, unitAmount: '1' },
      ]),
      ['tiers[0].upTo'],
    ],
    [
      'negative tier amounts',
      graduated([{ upTo: null, unitAmount: '-1', flatAmount: '-2' }]),
      ['tiers[0].unitAmount', 'tiers[0].flatAmount'],
    ],
    ['unknown model', { model: 'flat' as PriceModel, freeAllowance: '0' }, ['model']],
  ])('reports %s', (_name, spec, expected) => {
    expect(fields(spec)).toEqual(expected);
  });

  it('reports an unsupported currency and explains each problem', () => {
    expect(validatePriceSpec(perUnit('-1'), 'xxx')).toEqual([
      { field: 'currency', message: 'Unsupported currency: xxx' },
      { field: 'unitAmount', message: 'must not be negative, got -1' },
    ]);
    expect(validatePriceSpec(packaged('1', '0'), 'usd')).toEqual([
      { field: 'packageSize', message: 'must be greater than 0, got 0' },
    ]);
  });

  // What the admin API shows for each problem (setPrice answers these fields and messages).
  it.each<[string, PriceSpec, PriceProblem[]]>([
    [
      'missing unitAmount',
      { model: PriceModel.PER_UNIT, freeAllowance: '0' },
      [{ field: 'unitAmount', message: 'is required' }],
    ],
    ['empty unitAmount', perUnit(''), [{ field: 'unitAmount', message: 'is required' }]],
    ['no tiers', graduated([]), [{ field: 'tiers', message: 'at least one tier is required' }]],
    [
      'unsorted tiers',
      graduated([
        { upTo: '100', unitAmount: '1' },
        { upTo: '50', unitAmount: '1' },
        { upTo: null, unitAmount: '1' },
      ]),
      [{ field: 'tiers[1].upTo', message: 'tiers must be sorted by strictly ascending upTo: 50 is not above 100' }],
    ],
    [
      'last upTo not null',
      graduated([{ upTo: '100', unitAmount: '1' }]),
      [{ field: 'tiers[0].upTo', message: 'the last tier must be open-ended (upTo null)' }],
    ],
    [
      'open-ended tier before the last',
      volume([
        { upTo: null, unitAmount: '1' },
        { upTo: null, unitAmount: '1' },
      ]),
      [{ field: 'tiers[0].upTo', message: 'only the last tier may be open-ended (upTo null)' }],
    ],
    [
      'unknown model',
      { model: 'flat' as PriceModel, freeAllowance: '0' },
      [{ field: 'model', message: 'must be one of per_unit, graduated, volume, package, got flat' }],
    ],
  ])('explains %s', (_name, spec, problems) => {
    expect(validatePriceSpec(spec, 'usd')).toEqual(problems);
  });

  it('reports a tier that is not an object (tiers arrive as JSON) instead of failing on it', () => {
    for (const notATier of [null, '100', 5]) {
      const tiers = [notATier, { upTo: null, unitAmount: '1' }] as unknown as PriceTier[];
      expect(validatePriceSpec(graduated(tiers), 'usd')).toEqual([
        { field: 'tiers[0]', message: 'must be an object { upTo, unitAmount, flatAmount? }' },
      ]);
    }
  });

  it('reads an omitted upTo as open-ended and a null flat fee as none, as GraphQL passes them', () => {
    // setPrice's PriceTierInput: upTo and flatAmount are nullable, so a client may omit them or send null.
    const tiers = [
      { upTo: '100', unitAmount: '0.10', flatAmount: null },
      { unitAmount: '0.05' },
    ] as unknown as PriceTier[];
    expect(validatePriceSpec(graduated(tiers), 'usd')).toEqual([]);
    // 100 × 0.10 + 50 × 0.05, no flat fee in either tier
    expect(priceQuantity('150', graduated(tiers), 'usd').exactAmount).toBe('12.5');
  });

  it('makes priceUsage refuse invalid tiers rather than price with the valid ones, naming the segment', () => {
    const unsorted = graduated([
      { upTo: '100', unitAmount: '1' },
      { upTo: '50', unitAmount: '1' },
      { upTo: null, unitAmount: '1' },
    ]);
    expect(() =>
      priceUsage(
        [
          { quantity: '1', price: perUnit('1') },
          { quantity: '1', price: unsorted },
        ],
        'usd',
      ),
    ).toThrow(
      new RangeError(
        'Invalid segments[1].price: tiers[1].upTo tiers must be sorted by strictly ascending upTo: 50 is not above 100',
      ),
    );
  });

  it('makes priceUsage refuse an invalid spec, naming every problem', () => {
    const bad: PriceSpec = {
      id: 'price_bad',
      model: PriceModel.PACKAGE,
      unitAmount: '-1',
      packageSize: '0',
      freeAllowance: '0',
    };
    expect(() => priceQuantity('1', bad, 'usd')).toThrow(RangeError);
    expect(() => priceQuantity('1', bad, 'usd')).toThrow(
      'Invalid price price_bad: unitAmount must not be negative, got -1; packageSize must be greater than 0, got 0',
    );
  });

  it('makes priceUsage refuse a negative or malformed quantity', () => {
    expect(() => priceQuantity('-1', perUnit('1'), 'usd')).toThrow('segments[0].quantity must not be negative, got -1');
    expect(() => priceQuantity('1e3', perUnit('1'), 'usd')).toThrow(RangeError);
    expect(() => priceQuantity('0.0000000000001', perUnit('1'), 'usd')).toThrow(/fractional digits/);
  });
});

describe('invoiceTotal', () => {
  it('is the sum of the rounded lines, not the rounded exact total', () => {
    // each segment: 2,500 × 0.000002 = 0.005 → 1 cent; three lines → 3 cents (the exact total 0.015 would be 2)
    const segment: UsageSegment = { quantity: '2500', price: perUnit('0.000002') };
    expect(invoiceTotal(priceUsage([segment, segment, segment], 'usd'))).toBe(3n);
    expect(invoiceTotal([])).toBe(0n);
  });
});

/* ---------- property-based tests ---------- */

/** Decimal strings with few digits so tier bounds and allowances are hit often. */
const amount = (maxUnits: bigint, maxScale: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.bigInt({ min: 0n, max: maxUnits }), fc.integer({ min: 0, max: maxScale }))
    .map(([value, scale]) => decimalToString(decimal(value, scale)));

const quantityArb = amount(5000n, 2);
const priceArb = amount(2_000_000n, 6); // up to 2.000000 at 6 digits, or 2,000,000 whole units
const allowanceArb = fc.oneof(fc.constant('0'), amount(2000n, 1));

const tiersArb: fc.Arbitrary<PriceTier[]> = fc
  .array(
    fc.record({
      width: fc.bigInt({ min: 1n, max: 1500n }),
      unitAmount: priceArb,
      flatAmount: fc.option(amount(5000n, 2), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 4 },
  )
  .map((rows) => {
    let bound = 0n;
    return rows.map((row, index) => {
      bound += row.width;
      const tier: PriceTier = { upTo: index === rows.length - 1 ? null : bound.toString(), unitAmount: row.unitAmount };
      return row.flatAmount === undefined ? tier : { ...tier, flatAmount: row.flatAmount };
    });
  });

const specOf = (model: PriceModel): fc.Arbitrary<PriceSpec> => {
  switch (model) {
    case PriceModel.PER_UNIT:
      return fc.record({ model: fc.constant(model), unitAmount: priceArb, freeAllowance: allowanceArb });
    case PriceModel.PACKAGE:
      return fc.record({
        model: fc.constant(model),
        unitAmount: priceArb,
        packageSize: amount(1000n, 1).filter((size) => size !== '0'),
        freeAllowance: allowanceArb,
      });
    default:
      return fc.record({ model: fc.constant(model), tiers: tiersArb, freeAllowance: allowanceArb });
  }
};

const ALL_MODELS = Object.values(PriceModel);
const anySpec = fc.constantFrom(...ALL_MODELS).chain(specOf);
const currencyArb = fc.constantFrom('usd', 'jpy', 'kwd');

const exactSum = (values: string[]): string =>
  decimalToString(values.reduce((total, value) => add(total, parseDecimal(value)), decimal(0n)));

describe('properties', () => {
  it('the invoice total is the sum of the line amounts, and no line is negative', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ quantity: quantityArb, price: anySpec }), { maxLength: 5 }),
        currencyArb,
        (segments, currency) => {
          const lines = priceUsage(segments, currency);
          expect(lines).toHaveLength(segments.length);
          expect(invoiceTotal(lines)).toBe(lines.reduce((total, line) => total + line.amountMinor, 0n));
          for (const line of lines) {
            expect(line.amountMinor >= 0n).toBe(true);
            expect(parseDecimal(line.billableQuantity).value >= 0n).toBe(true);
          }
        },
      ),
    );
  });

  it.each([PriceModel.PER_UNIT, PriceModel.GRADUATED, PriceModel.PACKAGE])(
    '%s: cost never decreases as the quantity grows',
    (model) => {
      fc.assert(
        fc.property(specOf(model), quantityArb, quantityArb, currencyArb, (price, a, b, currency) => {
          const [low, high] = compare(parseDecimal(a), parseDecimal(b)) <= 0 ? [a, b] : [b, a];
          const lowLine = priceQuantity(low, price, currency);
          const highLine = priceQuantity(high, price, currency);
          expect(compare(parseDecimal(lowLine.exactAmount), parseDecimal(highLine.exactAmount))).toBeLessThanOrEqual(0);
          expect(lowLine.amountMinor <= highLine.amountMinor).toBe(true);
        }),
      );
    },
  );

  it('volume: cost never decreases as the quantity grows within one tier', () => {
    fc.assert(
      fc.property(specOf(PriceModel.VOLUME), quantityArb, quantityArb, (price, a, b) => {
        const [low, high] = compare(parseDecimal(a), parseDecimal(b)) <= 0 ? [a, b] : [b, a];
        const lowLine = priceQuantity(low, price, 'usd');
        const highLine = priceQuantity(high, price, 'usd');
        fc.pre(tierIndex(price, lowLine) === tierIndex(price, highLine));
        expect(lowLine.amountMinor <= highLine.amountMinor).toBe(true);
      }),
    );
  });

  it.each(ALL_MODELS)(
    '%s: splitting a segment in two under the same price keeps the exact cost; rounding moves ≤ 1 chargeable step',
    (model) => {
      fc.assert(
        fc.property(specOf(model), quantityArb, fc.nat({ max: 1000 }), currencyArb, (price, total, cut, currency) => {
          const q = parseDecimal(total);
          // split point k = total × cut / 1000, truncated to the quantity's own 2 digits: 0 ≤ k ≤ total
          const k = decimal((q.value * 10n ** BigInt(2 - q.scale) * BigInt(cut)) / 1000n, 2);
          const first = decimalToString(k);
          const second = decimalToString(sub(q, k));
          const whole = priceQuantity(total, price, currency);
          const parts = priceUsage(
            [
              { quantity: first, price },
              { quantity: second, price },
            ],
            currency,
          );
          expect(exactSum(parts.map((line) => line.exactAmount))).toBe(whole.exactAmount);
          // One step of what Stripe charges: a minor unit, 10 fils in KWD.
          const step = chargeStepMinor(currency);
          const drift = invoiceTotal(parts) - whole.amountMinor;
          expect(drift >= -step && drift <= step).toBe(true);
          expect(exactSum(parts.map((line) => line.billableQuantity))).toBe(whole.billableQuantity);
        }),
      );
    },
  );

  it('graduated: a quantity exactly at a bound is priced entirely in the tiers up to it', () => {
    fc.assert(
      fc.property(
        tiersArb.filter((tiers) => tiers.length > 1),
        fc.nat(),
        (tiers, pick) => {
          const k = pick % (tiers.length - 1); // a closed tier
          const bound = tiers[k].upTo as string;
          // Σ_{j ≤ k} (width_j × unit_j + flat_j), computed tier by tier
          let expected = decimal(0n);
          let lower = decimal(0n);
          for (const tier of tiers.slice(0, k + 1)) {
            const upper = parseDecimal(tier.upTo as string);
            const width = sub(upper, lower);
            expected = add(expected, mulDecimal(width, tier.unitAmount));
            expected = add(expected, parseDecimal(tier.flatAmount ?? '0'));
            lower = upper;
          }
          expect(priceQuantity(bound, graduated(tiers), 'usd').exactAmount).toBe(decimalToString(expected));
        },
      ),
    );
  });

  it('volume: a quantity exactly at a bound uses that tier; just past it uses the next', () => {
    fc.assert(
      fc.property(
        tiersArb.filter((tiers) => tiers.length > 1),
        fc.nat(),
        (tiers, pick) => {
          const k = pick % (tiers.length - 1);
          const bound = tiers[k].upTo as string;
          const at = priceQuantity(bound, volume(tiers), 'usd');
          const expectedAt = add(
            mulDecimal(parseDecimal(bound), tiers[k].unitAmount),
            parseDecimal(tiers[k].flatAmount ?? '0'),
          );
          expect(at.exactAmount).toBe(decimalToString(expectedAt));
          const past = decimalToString(add(parseDecimal(bound), decimal(1n, 12))); // bound + 10^-12
          const next = tiers[k + 1];
          const expectedPast = add(
            mulDecimal(parseDecimal(past), next.unitAmount),
            parseDecimal(next.flatAmount ?? '0'),
          );
          expect(priceQuantity(past, volume(tiers), 'usd').exactAmount).toBe(decimalToString(expectedPast));
        },
      ),
    );
  });

  it('free allowance: billable = max(0, quantity − allowance) and the amount is never negative', () => {
    fc.assert(
      fc.property(anySpec, quantityArb, currencyArb, (price, quantity, currency) => {
        const line = priceQuantity(quantity, price, currency);
        const billable = sub(parseDecimal(quantity), parseDecimal(price.freeAllowance));
        expect(line.billableQuantity).toBe(billable.value > 0n ? decimalToString(billable) : '0');
        expect(line.amountMinor >= 0n).toBe(true);
        if (line.billableQuantity === '0') {
          expect(line.amountMinor).toBe(0n);
          expect(line.unitAmount).toBeNull();
        }
      }),
    );
  });
});

/** Exact width × unit price (the test's own multiplication, via bigint, independent of the pricing module). */
function mulDecimal(width: ReturnType<typeof parseDecimal>, unitAmount: string): ReturnType<typeof parseDecimal> {
  const unit = parseDecimal(unitAmount);
  return decimal(width.value * unit.value, width.scale + unit.scale);
}

/** Which volume tier a line's billable total falls in (first with total ≤ upTo, else the last). */
function tierIndex(price: PriceSpec, line: { billableQuantity: string }): number {
  const tiers = price.tiers ?? [];
  const billable = parseDecimal(line.billableQuantity);
  const index = tiers.findIndex((tier) => tier.upTo !== null && compare(billable, parseDecimal(tier.upTo)) <= 0);
  return index === -1 ? tiers.length - 1 : index;
}
