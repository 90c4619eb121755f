import fc from 'fast-check';
import {
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  getNamedType,
  isEnumType,
  isInterfaceType,
  isLeafType,
  isObjectType,
  isUnionType,
} from 'graphql';
import type { GraphQLField, GraphQLInputType, GraphQLOutputType, GraphQLSchema, GraphQLScalarType } from 'graphql';
import { anyJson, deepJson, hostileNumber, hostileString, rawNumber } from './fuzz-harness';

/**
 * Operations generated from a schema (read by introspection): one root field of Query, Mutation or Subscription
 * with each of its arguments omitted, given as a variable or written as a literal, each value right-typed (often
 * valid, so the service is reached), of a wrong type, or hostile (long, NUL, unpaired surrogates, huge numbers,
 * deep nesting). A variable's JSON is written as text, so numbers JSON can carry but JavaScript cannot (1e400) and
 * deep nesting reach the server as a client would send them.
 */

export type RootKind = 'query' | 'mutation' | 'subscription';

export interface GeneratedOperation {
  kind: RootKind;
  field: string;
  query: string;
  /** The `variables` object as JSON text (or not an object at all). */
  variablesJson: string;
  /** For a report: which argument was sent how. */
  describe: string;
}

/** Values the server knows (ids it stored, its catalogue, its months): without them fuzzing stops at "not found". */
export interface Known {
  strings: string[];
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A typed value for `type`: mostly right-typed, sometimes null, sometimes of any other type. */
function valueFor(type: GraphQLInputType, known: Known, depth: number): fc.Arbitrary<unknown> {
  const typed = typedValue(type, known, depth);
  return fc.oneof(
    { weight: 8, arbitrary: typed },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: anyJson },
  );
}

function typedValue(type: GraphQLInputType, known: Known, depth: number): fc.Arbitrary<unknown> {
  if (type instanceof GraphQLNonNull) {
    return typedValue(type.ofType as GraphQLInputType, known, depth);
  }
  if (type instanceof GraphQLList) {
    const item = valueFor(type.ofType as GraphQLInputType, known, depth + 1);
    // A single item where a list is expected is coerced to a list of one: both forms.
    return depth > 2 ? fc.constant([]) : fc.oneof(fc.array(item, { maxLength: 3 }), item);
  }
  if (type instanceof GraphQLEnumType) {
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...type.getValues().map((value) => value.name)) },
      { weight: 1, arbitrary: hostileString },
    );
  }
  if (type instanceof GraphQLInputObjectType) {
    if (depth > 2) {
      return fc.constant({});
    }
    const fields = Object.values(type.getFields());
    const record = Object.fromEntries(
      fields.map((field) => [field.name, valueFor(field.type, known, depth + 1)]),
    ) as Record<string, fc.Arbitrary<unknown>>;
    return fc
      .tuple(
        fc.record(record, { requiredKeys: fields.filter((f) => f.type instanceof GraphQLNonNull).map((f) => f.name) }),
        fc.dictionary(fc.constantFrom('extra', '__proto__', 'constructor', ''), anyJson, { maxKeys: 1 }),
      )
      .map(([value, extra]) => ({ ...extra, ...value }));
  }
  return scalarValue(type as GraphQLScalarType, known);
}

function scalarValue(type: GraphQLScalarType, known: Known): fc.Arbitrary<unknown> {
  const knownString = fc.constantFrom(...known.strings);
  const text = fc.oneof({ weight: 2, arbitrary: knownString }, { weight: 3, arbitrary: hostileString });
  switch (type.name) {
    case 'String':
      return text;
    case 'ID':
      return fc.oneof({ weight: 4, arbitrary: text }, { weight: 1, arbitrary: fc.integer() });
    case 'Int':
    case 'SafeInt':
      return fc.oneof(fc.integer({ min: -5, max: 200 }), hostileNumber);
    case 'Float':
      return hostileNumber;
    case 'Boolean':
      return fc.boolean();
    case 'DateTimeISO':
      return fc.oneof(
        fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
        fc.constantFrom('2024-01-15T10:00:00Z', '2024-02-30T00:00:00Z', '2024-01-01', '0000-01-01T00:00:00Z'),
        hostileString,
        hostileNumber,
      );
    case 'Decimal':
      return fc.oneof(
        fc.constantFrom('0', '1', '-1', '0.5', '1.25', '1e3', '-0', '.5', '1.', '1e-400', '9'.repeat(80), '0x10'),
        fc.integer().map(String),
        hostileNumber,
        hostileString,
      );
    case 'JSONObject':
      return fc.oneof(
        fc.dictionary(
          hostileString.filter((k) => k.length < 40),
          anyJson,
          { maxKeys: 4 },
        ),
        anyJson,
      );
    default:
      return fc.oneof(text, hostileNumber, anyJson);
  }
}

/** JSON text for a variable's value: mostly JSON.stringify, sometimes numbers JavaScript cannot hold or deep nesting. */
function variableJson(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 10, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: rawNumber },
    { weight: 1, arbitrary: deepJson },
  );
}

/** A GraphQL literal for `value` as `type` expects it: enum values bare, strings escaped (or not quite). */
function literal(value: unknown, type: GraphQLInputType | null, rawStrings: boolean): string {
  const named = type ? getNamedType(type) : null;
  if (value === null) {
    return 'null';
  }
  if (typeof value === 'string') {
    if (named && isEnumType(named) && NAME.test(value)) {
      return value;
    }
    // Raw: only the quote and the backslash escaped, so control characters and surrogates reach the lexer as such.
    return rawStrings ? `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return Object.is(value, -0) ? '-0' : String(value);
  }
  const itemType =
    type && getNullable(type) instanceof GraphQLList ? (getNullable(type) as GraphQLList<never>).ofType : null;
  if (Array.isArray(value)) {
    return `[${value.map((item) => literal(item, itemType, rawStrings)).join(', ')}]`;
  }
  const objectType =
    type && getNullable(type) instanceof GraphQLInputObjectType ? (getNullable(type) as GraphQLInputObjectType) : null;
  const fields = objectType?.getFields() ?? {};
  return `{${Object.entries(value as Record<string, unknown>)
    .map(
      ([key, item]) =>
        `${NAME.test(key) ? key : JSON.stringify(key)}: ${literal(item, fields[key]?.type ?? null, rawStrings)}`,
    )
    .join(', ')}}`;
}

function getNullable(type: GraphQLInputType): GraphQLInputType {
  return type instanceof GraphQLNonNull ? (type.ofType as GraphQLInputType) : type;
}

/** Literal texts no value prints as: broken tokens, overflowing numbers, block strings, deep nesting. */
const junkLiteral = fc.oneof(
  fc.constantFrom(
    '$undeclared',
    '"unterminated',
    '"""block\nstring"""',
    '[',
    '{',
    '}',
    '1.',
    '.5',
    '0x1F',
    '01',
    '1e400',
    '99999999999999999999999999999',
    '-',
    '@skip',
    '#comment\n1',
    '"\\u{1F600}"',
    '"\\uD800"',
    '"\\uDC00\\uD800"',
    '"\\x00"',
    'true false',
    '{a: {b: {c: [1, 2, [3]]}}}',
    '"\u0000"',
    '"\ud800"',
  ),
  fc.constantFrom(64, 1_000, 2_600).map((depth) => `${'['.repeat(depth)}1${']'.repeat(depth)}`),
  fc.constantFrom(64, 1_000).map((depth) => `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`),
);

/** How one argument is sent. */
type ArgPlan = { how: 'omit' } | { how: 'variable'; declared: string; json: string } | { how: 'literal'; text: string };

function argPlan(type: GraphQLInputType, known: Known): fc.Arbitrary<ArgPlan> {
  const value = valueFor(type, known, 0);
  const declared = fc.oneof(
    { weight: 6, arbitrary: fc.constant(String(type)) },
    { weight: 1, arbitrary: fc.constantFrom('String', 'Int!', '[String!]!', 'Boolean', 'JSONObject', 'Unknown', 'ID') },
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({ how: 'omit' as const }) },
    {
      weight: 3,
      arbitrary: fc
        .record({ declared, json: variableJson(value) })
        .map(({ declared: d, json }) => ({ how: 'variable' as const, declared: d, json })),
    },
    {
      weight: 3,
      arbitrary: fc
        .oneof(
          { weight: 6, arbitrary: fc.tuple(value, fc.boolean()).map(([v, raw]) => literal(v, type, raw)) },
          { weight: 1, arbitrary: junkLiteral },
        )
        .map((text) => ({ how: 'literal' as const, text })),
    },
  );
}

/** A selection of everything cheap under a field's type: scalar fields, a few levels deep, every union member. */
export function selectionFor(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (isLeafType(named)) {
    return '';
  }
  if (depth >= 3) {
    return '{ __typename }';
  }
  if (isUnionType(named)) {
    const members = named.getTypes().map((member) => `... on ${member.name} ${selectionFor(member, depth + 1)}`);
    return `{ __typename ${members.join(' ')} }`;
  }
  if (isObjectType(named) || isInterfaceType(named)) {
    const fields = Object.values(named.getFields())
      .filter((field) => field.args.every((arg) => !(arg.type instanceof GraphQLNonNull)))
      .map((field) => `${field.name} ${selectionFor(field.type, depth + 1)}`.trim());
    return `{ __typename ${fields.join(' ')} }`;
  }
  return '';
}

/** Arbitrary operations calling `field` of the root `kind`. */
export function operationsFor(
  kind: RootKind,
  field: GraphQLField<unknown, unknown>,
  known: Known,
): fc.Arbitrary<GeneratedOperation> {
  const plans = fc.tuple(...field.args.map((arg) => argPlan(arg.type, known)));
  const selection = selectionFor(field.type);
  return fc
    .record({
      plans: field.args.length > 0 ? plans : fc.constant([] as ArgPlan[]),
      // Sometimes the variables are not an object at all.
      variablesShape: fc.oneof(
        { weight: 12, arbitrary: fc.constant('object') },
        { weight: 1, arbitrary: fc.constantFrom('[]', '"x"', '1', 'null', 'true') },
      ),
    })
    .map(({ plans: argPlans, variablesShape }) => {
      const definitions: string[] = [];
      const args: string[] = [];
      const variables: string[] = [];
      const described: string[] = [];
      argPlans.forEach((plan, index) => {
        const arg = field.args[index];
        if (plan.how === 'variable') {
          definitions.push(`$v${index}: ${plan.declared}`);
          args.push(`${arg.name}: $v${index}`);
          variables.push(`"v${index}":${plan.json}`);
          described.push(`${arg.name}=$(${plan.declared}) ${plan.json.slice(0, 80)}`);
        } else if (plan.how === 'literal') {
          args.push(`${arg.name}: ${plan.text}`);
          described.push(`${arg.name}=${plan.text.slice(0, 80)}`);
        }
      });
      const header = definitions.length > 0 ? `(${definitions.join(', ')})` : '';
      const call = args.length > 0 ? `(${args.join(', ')})` : '';
      return {
        kind,
        field: field.name,
        query: `${kind} Fuzz${header} { ${field.name}${call} ${selection} }`,
        variablesJson: variablesShape === 'object' ? `{${variables.join(',')}}` : variablesShape,
        describe: `${kind} ${field.name}(${described.join(', ')})`,
      };
    });
}

/** Every root field of the schema, by kind. */
export function rootFields(schema: GraphQLSchema): Array<{ kind: RootKind; field: GraphQLField<unknown, unknown> }> {
  const roots: Array<[RootKind, ReturnType<GraphQLSchema['getQueryType']>]> = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  return roots.flatMap(([kind, type]) =>
    type ? Object.values(type.getFields()).map((field) => ({ kind, field })) : [],
  );
}
