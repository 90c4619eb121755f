import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { oversizedVariablesError, textLengthRule } from '../src/schema/text-limits';

/** String bounds by name (issue 17): literals by a validation rule, variables by the same bounds. */
describe('text limits', () => {
  const limits = { short: 10, long: 50, jsonValue: 20 };
  const schema = buildSchema(`
    scalar JSONObject
    input EventInput { userId: String!, description: String, metadata: JSONObject }
    type Query {
      invoices(userId: String, reason: String, events: [EventInput!]): Int
    }
  `);
  const literalErrors = (query: string): string[] =>
    validate(schema, parse(query), [...specifiedRules, textLengthRule(limits)]).map((e) => e.message);
  const s = (n: number): string => 'x'.repeat(n);

  it('holds id-like literals to the short bound and free text to the long one', () => {
    expect(literalErrors(`{ invoices(userId: "${s(10)}", reason: "${s(50)}") }`)).toEqual([]);
    expect(literalErrors(`{ invoices(userId: "${s(11)}") }`)).toEqual([
      '"userId" is 11 characters long; at most 10 are accepted',
    ]);
    expect(literalErrors(`{ invoices(reason: "${s(51)}") }`)).toHaveLength(1);
  });

  it('reaches input objects, lists and JSON values in literals', () => {
    expect(literalErrors(`{ invoices(events: [{ userId: "u", description: "${s(50)}" }]) }`)).toEqual([]);
    expect(literalErrors(`{ invoices(events: [{ userId: "${s(11)}" }]) }`)).toHaveLength(1);
    expect(literalErrors(`{ invoices(events: [{ userId: "u", metadata: { k: "${s(20)}" } }]) }`)).toEqual([]);
    expect(literalErrors(`{ invoices(events: [{ userId: "u", metadata: { k: ["${s(21)}"] } }]) }`)).toHaveLength(1);
  });

  it('holds variables to the same bounds, by the argument or field they fill, never quoting them', () => {
    const document = parse(
      'query ($u: String, $r: String, $e: [EventInput!]) { invoices(userId: $u, reason: $r, events: $e) }',
    );
    const check = (variables: Record<string, unknown>) => oversizedVariablesError(schema, document, variables, limits);
    expect(check({ u: s(10), r: s(50), e: [{ userId: 'u', metadata: { k: s(20) } }] })).toBeNull();
    expect(check({ u: s(11) })?.message).toBe('Variable "$u" is 11 characters long; at most 10 are accepted');
    expect(check({ r: s(51) })?.extensions.code).toBe('BAD_USER_INPUT');
    expect(check({ e: [{ userId: 'u' }, { userId: s(1000) }] })?.message).toBe(
      'Variable "$e"[1].userId is 1000 characters long; at most 10 are accepted',
    );
    expect(check({ e: { userId: 'u', metadata: { [s(11)]: 1 } } })?.message).toMatch(/^A key of/);
  });
});
