import fc from 'fast-check';
import type { Decimal } from '../src/services/shared/decimal';
import {
  add,
  ceilDiv,
  compare,
  decimal,
  decimalToString,
  divRoundHalfUp,
  divToScale,
  isNegative,
  isZero,
  max,
  min,
  mul,
  parseDecimal,
  roundHalfUpToScale,
  sub,
} from '../src/services/shared/decimal';

const d = parseDecimal;
const str = (x: Decimal): string => decimalToString(x);

/** Any decimal a numeric(30,12) column can hold, as an exact Decimal. */
const anyDecimal = fc.integer({ min: 0, max: 12 }).chain((scale) => {
  const limit = 10n ** BigInt(18 + scale) - 1n; // 18 integer digits at any scale
  return fc.bigInt({ min: -limit, max: limit }).map((value) => decimal(value, scale));
});

describe('parseDecimal', () => {
  it.each([
    ['0.000002', 2n, 6],
    ['1500', 1500n, 0],
    ['12.5', 125n, 1],
    ['-12.5', -125n, 1],
    ['1.500000000000', 15n, 1], // PostgreSQL numeric(30,12) text form
    ['007.10', 71n, 1],
    ['0', 0n, 0],
    ['-0', 0n, 0],
    ['0.000000000000', 0n, 0],
  ])('parses %s exactly', (input, value, scale) => {
    expect(d(input)).toEqual({ value, scale });
  });

  it('accepts the full numeric(30,12) range', () => {
    expect(str(d('999999999999999999.999999999999'))).toBe('999999999999999999.999999999999');
    expect(str(d('-000999999999999999999.5'))).toBe('-999999999999999999.5'); // leading zeros are not digits of value
  });

  it.each([
    ['', /empty/],
    ['1e5', /expected digits/],
    ['1E-7', /expected digits/],
    ['NaN', /expected digits/],
    ['Infinity', /expected digits/],
    [' 1', /expected digits/],
    ['1 ', /expected digits/],
    ['+1', /expected digits/],
    ['.5', /expected digits/],
    ['5.', /expected digits/],
    ['1,5', /expected digits/],
    ['--1', /expected digits/],
    ['0x10', /expected digits/],
    ['1.0000000000001', /more than 12 fractional digits/],
    ['1.0000000000000', /more than 12 fractional digits/], // 13 digits even if zeros: PostgreSQL would round
    ['1000000000000000000', /more than 18 integer digits/],
  ])('rejects %j with a RangeError', (input, message) => {
    expect(() => d(input)).toThrow(RangeError);
    expect(() => d(input)).toThrow(message);
  });

  it('rejects a number smuggled in through JSON', () => {
    expect(() => d(0.1 as unknown as string)).toThrow('Invalid decimal 0.1: expected a string, got number');
  });

  it('names the bad input in the message', () => {
    expect(() => d('1e5')).toThrow('Invalid decimal "1e5"');
  });
});

describe('decimalToString', () => {
  it.each([
    [decimal(0n, 5), '0'],
    [decimal(-5n, 2), '-0.05'],
    [decimal(1234500n, 3), '1234.5'],
    [decimal(1500n, 0), '1500'],
    [decimal(2469134n, 6), '2.469134'],
    [decimal(1n, 24), '0.000000000000000000000001'], // products may exceed 12 digits; never an exponent
    [decimal(10n ** 25n, 0), '10000000000000000000000000'],
  ])('prints %o as %s', (value, text) => {
    expect(str(value)).toBe(text);
  });
});

describe('arithmetic', () => {
  it('adds, subtracts and multiplies exactly across scales', () => {
    expect(str(add(d('0.1'), d('0.2')))).toBe('0.3'); // the float classic: exactly 0.3 here
    expect(str(sub(d('1'), d('0.000002')))).toBe('0.999998');
    expect(str(sub(d('2.5'), d('7')))).toBe('-4.5');
    expect(str(mul(d('1234567'), d('0.000002')))).toBe('2.469134');
    expect(str(mul(d('0.000000000001'), d('0.000000000001')))).toBe('0.000000000000000000000001');
    expect(str(mul(d('-1.5'), d('-2')))).toBe('3');
  });

  it('compares regardless of representation', () => {
    expect(compare(d('1.50'), d('1.5'))).toBe(0);
    expect(compare(d('1.5'), d('1.49999'))).toBe(1);
    expect(compare(d('-2'), d('-1.5'))).toBe(-1);
    expect(str(min(d('3'), d('2.9')))).toBe('2.9');
    expect(str(max(d('3'), d('2.9')))).toBe('3');
  });

  it('knows zero and negatives', () => {
    expect(isZero(d('0.000'))).toBe(true);
    expect(isZero(d('0.000000000001'))).toBe(false);
    expect(isNegative(d('-0'))).toBe(false);
    expect(isNegative(d('-0.000000000001'))).toBe(true);
  });

  it('rejects a negative or fractional scale, naming it', () => {
    expect(() => decimal(1n, -1)).toThrow(new RangeError('Decimal scale must be a non-negative integer, got -1'));
    expect(() => decimal(1n, 1.5)).toThrow(RangeError);
    expect(() => roundHalfUpToScale(d('1'), -1)).toThrow(
      new RangeError('Rounding scale must be a non-negative integer, got -1'),
    );
  });
});

describe('roundHalfUpToScale', () => {
  it.each([
    ['2.469134', 2, 247n], // 246.9134 cents → 247
    ['2.465', 2, 247n], // exactly half a cent → up
    ['2.4649999', 2, 246n], // just under half → down
    ['-2.465', 2, -247n], // half away from zero for credits
    ['-2.4649999', 2, -246n],
    ['0.5', 0, 1n],
    ['-0.5', 0, -1n],
    ['0.4', 0, 0n],
    ['1.5', 3, 1500n], // finer scale: exact, no rounding
    ['0', 2, 0n],
  ])('%s at scale %i → %p', (input, scale, units) => {
    expect(roundHalfUpToScale(d(input), scale)).toBe(units);
  });
});

describe('division helpers', () => {
  it('divides with half-up rounding at a scale', () => {
    expect(str(divToScale(d('1'), d('3'), 12))).toBe('0.333333333333');
    expect(str(divToScale(d('2'), d('3'), 12))).toBe('0.666666666667');
    expect(str(divToScale(d('-2'), d('3'), 2))).toBe('-0.67');
    expect(str(divToScale(d('25.05'), d('101'), 12))).toBe('0.24801980198'); // 0.248019801980|19… → …980
    expect(() => divToScale(d('1'), d('0'), 2)).toThrow(new RangeError('Division by zero'));
    expect(divRoundHalfUp(5n, -2n)).toBe(-3n); // -2.5 → -3
    expect(() => divRoundHalfUp(1n, 0n)).toThrow(new RangeError('Division by zero'));
  });

  it.each([
    ['1001', '1000', 2n], // 1001 units in packages of 1000 → 2 packages
    ['1000', '1000', 1n],
    ['999', '1000', 1n],
    ['0', '1000', 0n],
    ['1.5', '0.5', 3n],
    ['1.6', '0.5', 4n],
    ['-1.5', '1', -1n], // ceiling, not truncation away from zero
  ])('ceilDiv(%s, %s) = %p', (a, b, expected) => {
    expect(ceilDiv(d(a), d(b))).toBe(expected);
  });

  it('refuses a non-positive package size by name, not with a bare division by zero', () => {
    expect(() => ceilDiv(d('1'), d('0'))).toThrow(new RangeError('ceilDiv needs a positive divisor, got 0'));
    expect(() => ceilDiv(d('1'), d('-1'))).toThrow(/positive divisor/);
  });
});

describe('properties', () => {
  it('parse/print round-trips any numeric(30,12) string to its canonical form', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.stringMatching(/^[0-9]{1,18}$/),
        fc.option(fc.stringMatching(/^[0-9]{1,12}$/), { nil: undefined }),
        (negative, integerDigits, fractionDigits) => {
          const input = `${negative ? '-' : ''}${integerDigits}${fractionDigits === undefined ? '' : `.${fractionDigits}`}`;
          // Independent canonical form: strip leading integer zeros and trailing fraction zeros.
          const integerPart = integerDigits.replace(/^0+(?=\d)/, '');
          const fractionPart = (fractionDigits ?? '').replace(/0+$/, '');
          const magnitude = fractionPart === '' ? integerPart : `${integerPart}.${fractionPart}`;
          const expected = magnitude === '0' ? '0' : `${negative ? '-' : ''}${magnitude}`;
          const printed = str(d(input));
          expect(printed).toBe(expected);
          expect(str(d(printed))).toBe(printed);
        },
      ),
    );
  });

  it('print/parse round-trips any decimal value', () => {
    fc.assert(
      fc.property(anyDecimal, (x) => {
        expect(compare(d(str(x)), x)).toBe(0);
      }),
    );
  });

  it('add and sub are inverse and compare agrees with the sign of the difference', () => {
    fc.assert(
      fc.property(anyDecimal, anyDecimal, (a, b) => {
        expect(compare(sub(add(a, b), b), a)).toBe(0);
        const difference = sub(a, b);
        const sign = isZero(difference) ? 0 : isNegative(difference) ? -1 : 1;
        expect(compare(a, b)).toBe(sign);
        expect(compare(min(a, b), max(a, b))).toBeLessThanOrEqual(0);
      }),
    );
  });

  it('roundHalfUpToScale is within half a unit, ties away from zero', () => {
    fc.assert(
      fc.property(anyDecimal, fc.integer({ min: 0, max: 12 }), (x, scale) => {
        const units = roundHalfUpToScale(x, scale);
        const error = sub(decimal(units, scale), x); // rounded − exact
        const half = decimal(5n, scale + 1);
        expect(compare(error, half)).toBeLessThanOrEqual(0);
        expect(compare(error, sub(decimal(0n), half))).toBeGreaterThanOrEqual(0);
        if (compare(error, half) === 0 || compare(error, sub(decimal(0n), half)) === 0) {
          // a tie moved away from zero: the rounded value has the larger magnitude
          expect(isNegative(error)).toBe(isNegative(x));
        }
      }),
    );
  });

  it('ceilDiv is the least integer n with n × b ≥ a', () => {
    fc.assert(
      fc.property(
        anyDecimal,
        anyDecimal.filter((b) => b.value > 0n),
        (a, b) => {
          const n = ceilDiv(a, b);
          expect(compare(mul(decimal(n), b), a)).toBeGreaterThanOrEqual(0);
          expect(compare(mul(decimal(n - 1n), b), a)).toBe(-1);
        },
      ),
    );
  });
});
