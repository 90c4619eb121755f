import fc from 'fast-check';
import { parseDecimal } from '../src/services/shared/decimal';
import type { Money } from '../src/services/shared/money';
import {
  SUPPORTED_CURRENCIES,
  isSupportedCurrency,
  maximumChargeMinor,
  minimumChargeMinor,
} from '../src/config/currencies';
import { formatMoney, minorToDecimalString, sumMinor, toMinorUnits } from '../src/services/shared/money';

const NBSP = '\u00a0';

describe('toMinorUnits', () => {
  it.each([
    ['2.469134', 'usd', 247n], // 1,234,567 tokens × 0.000002 = 2.469134 USD = 246.9134 cents → 247
    ['0.005', 'usd', 1n], // exactly half a cent → up
    ['0.004999999999', 'usd', 0n], // just under half a cent → down
    ['-0.005', 'usd', -1n], // credits round half away from zero, symmetric with charges
    ['25.5', 'USD', 2550n], // upper-case codes are accepted
    ['1499.5', 'jpy', 1500n], // zero-decimal: whole yen, .5 yen → up
    ['1499.4999', 'jpy', 1499n],
    ['1.2345', 'kwd', 1235n], // three decimals: 1234.5 fils → 1235
    ['1.2344', 'kwd', 1234n],
    ['0', 'usd', 0n],
  ])('%s %s → %p', (amount, currency, minor) => {
    expect(toMinorUnits(parseDecimal(amount), currency)).toBe(minor);
  });

  it('rejects an unsupported currency', () => {
    expect(() => toMinorUnits(parseDecimal('1'), 'xxx')).toThrow(RangeError);
  });
});

describe('minorToDecimalString', () => {
  it.each([
    [2550n, 'usd', '25.50'],
    [1500n, 'jpy', '1500'],
    [1234n, 'kwd', '1.234'],
    [5n, 'kwd', '0.005'],
    [-5n, 'usd', '-0.05'],
    [-1500n, 'jpy', '-1500'],
    [0n, 'usd', '0.00'],
    [0n, 'jpy', '0'],
    [12345678901234567899n, 'usd', '123456789012345678.99'], // beyond float precision, still exact
  ])('%p %s → %s', (minor, currency, text) => {
    expect(minorToDecimalString(minor, currency)).toBe(text);
  });
});

describe('formatMoney', () => {
  it.each([
    [2550n, 'usd', 'en-US', '$25.50'],
    [1500n, 'jpy', 'en-US', '¥1,500'],
    [1234n, 'kwd', 'en-US', `KWD${NBSP}1.234`],
    [-5n, 'usd', 'en-US', '-$0.05'],
    [0n, 'usd', 'en-US', '$0.00'],
    [123450n, 'eur', 'de-DE', `1.234,50${NBSP}€`],
    [1500n, 'jpy', 'ja-JP', '￥1,500'],
    [1234n, 'isk', 'en-US', `ISK${NBSP}12.34`], // Intl defaults ISK to 0 digits; Stripe's exponent is 2: never hide cents
    [12345678901234567899n, 'usd', 'en-US', '$123,456,789,012,345,678.99'], // exact: no float on the way
  ])('%p %s in %s → %s', (minor, currency, locale, text) => {
    expect(formatMoney(minor, currency, locale)).toBe(text);
  });

  it('defaults to en-US', () => {
    expect(formatMoney(2550n, 'usd')).toBe('$25.50');
  });
});

describe('sumMinor', () => {
  it('sums exactly, 0n for nothing', () => {
    expect(sumMinor([])).toBe(0n);
    expect(sumMinor([247n, 1n, -1n])).toBe(247n);
    expect(sumMinor([2n ** 63n, 2n ** 63n])).toBe(2n ** 64n); // past int64 and float precision
  });

  it('carries a Money value', () => {
    const money: Money = { amountMinor: sumMinor([1000n, 550n]), currency: 'usd' };
    expect(formatMoney(money.amountMinor, money.currency)).toBe('$15.50');
  });
});

describe('properties', () => {
  const currency = fc.constantFrom('usd', 'jpy', 'kwd');
  const minor = fc.bigInt({ min: -(10n ** 18n) + 1n, max: 10n ** 18n - 1n }); // 18 integer digits even for JPY

  it('minor → decimal string → minor is the identity', () => {
    fc.assert(
      fc.property(minor, currency, (amount, code) => {
        expect(toMinorUnits(parseDecimal(minorToDecimalString(amount, code)), code)).toBe(amount);
      }),
    );
  });

  it('formatting never loses a digit: the formatted text carries every digit of the amount', () => {
    fc.assert(
      fc.property(minor, currency, (amount, code) => {
        const digits = formatMoney(amount, code).replace(/\D/g, '');
        expect(BigInt(digits)).toBe(amount < 0n ? -amount : amount);
      }),
    );
  });
});

describe("Stripe's charge limits (the currency table the local Stripe shares)", () => {
  it.each([
    ['usd', 50n],
    ['gbp', 30n],
    ['jpy', 50n],
    ['huf', 17500n],
    ['USD', 50n],
    ['kwd', null], // the equivalent of 0.50 USD at the day's rate: no fixed minimum
  ])('minimum charge of %s: %p', (currency, minimum) => {
    expect(minimumChargeMinor(currency)).toBe(minimum);
  });

  it('charges at most eight digits (999,999.99 USD), twelve for IDR, and knows only the table', () => {
    expect(maximumChargeMinor('usd')).toBe(99_999_999n);
    expect(maximumChargeMinor('jpy')).toBe(99_999_999n);
    expect(maximumChargeMinor('idr')).toBe(999_999_999_999n);
    expect(() => maximumChargeMinor('xyz')).toThrow(RangeError);
    expect(SUPPORTED_CURRENCIES).toEqual(expect.arrayContaining(['usd', 'jpy', 'kwd', 'bhd', 'jod', 'omr', 'tnd']));
    expect(SUPPORTED_CURRENCIES.every(isSupportedCurrency)).toBe(true);
  });

  it("writes a currency's code when asked (ASCII, for the PDF)", () => {
    expect(formatMoney(123456n, 'usd', 'en-US', 'code')).toBe(`USD${NBSP}1,234.56`);
    expect(formatMoney(1234n, 'kwd', 'en-US', 'code')).toBe(`KWD${NBSP}1.234`);
  });
});
