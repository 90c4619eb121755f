import { jsonTextNestsDeeper, valueNestsDeeper } from '../../src/lib/json-depth';

const text = (json: string): Buffer => Buffer.from(json);

/** `[[[…1…]]]`, `depth` levels, built without recursion. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) {
    value = i % 2 === 0 ? [value] : { a: value };
  }
  return value;
}

describe('how deeply JSON nests, measured without recursion', () => {
  it('counts arrays and objects inside one another', () => {
    expect(jsonTextNestsDeeper(text('1'), 0)).toBe(false);
    expect(jsonTextNestsDeeper(text('[]'), 0)).toBe(true);
    expect(jsonTextNestsDeeper(text('[[1],{"a":[2]}]'), 2)).toBe(true);
    expect(jsonTextNestsDeeper(text('[[1],{"a":[2]}]'), 3)).toBe(false);
    expect(jsonTextNestsDeeper(text('[[],[],[],[]]'), 2)).toBe(false);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(jsonTextNestsDeeper(text('["[[[[{{{{"]'), 1)).toBe(false);
    expect(jsonTextNestsDeeper(text('["\\"[[[[", "\\\\", [1]]'), 2)).toBe(false);
    expect(jsonTextNestsDeeper(text('["\\\\", [[1]]]'), 2)).toBe(true);
    expect(jsonTextNestsDeeper(text('{"é[": ["😀{"]}'), 2)).toBe(false);
    // An unterminated string ends the scan: the parser refuses the text anyway.
    expect(jsonTextNestsDeeper(text('[["[[[['), 2)).toBe(false);
  });

  it('answers for 100,000 levels without overflowing the stack', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(jsonTextNestsDeeper(text(deep), 64)).toBe(true);
    expect(valueNestsDeeper(JSON.parse(deep), 64)).toBe(true);
    expect(valueNestsDeeper(nested(100_000), 64)).toBe(true);
  });

  it('measures parsed values the same way', () => {
    expect(valueNestsDeeper(null, 0)).toBe(false);
    expect(valueNestsDeeper('x', 0)).toBe(false);
    expect(valueNestsDeeper({}, 0)).toBe(true);
    expect(valueNestsDeeper(nested(64), 64)).toBe(false);
    expect(valueNestsDeeper(nested(65), 64)).toBe(true);
    expect(valueNestsDeeper({ a: [1, 2, { b: [] }], c: 'x' }, 4)).toBe(false);
    expect(valueNestsDeeper({ a: [1, 2, { b: [] }], c: 'x' }, 3)).toBe(true);
  });
});
