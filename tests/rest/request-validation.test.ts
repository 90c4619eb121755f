import Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { Role } from '../../src/entities/enums';
import { isStorableText } from '../../src/schema/storable-text';
import type { RestResponse, RestServer } from './rest-harness';
import { startRestServer } from './rest-harness';

/**
 * The OpenAPI document and the routes' request validation cannot drift: for every parameter and JSON body property
 * of every billing and usage route, values on both sides of each rule are sent to the running server, and whatever
 * the served document (`/api/v1/openapi.json`, judged here by its own ajv) calls invalid must be refused naming that
 * parameter, and whatever it calls valid must not be. The values are the rules' edges: lengths, ranges, patterns,
 * numbers for ids, repeated query parameters, unstorable text.
 */

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  allowEmptyValue?: boolean;
  schema: Schema;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const MISSING = '00000000-0000-4000-8000-000000000000';

/** Sent in a path or a query string; an array is the parameter repeated. */
const TEXT_VALUES: Array<string | string[]> = [
  'x',
  '0',
  '1',
  '50',
  '100',
  '101',
  '-1',
  '1.5',
  '1e2',
  'abc',
  '2024-01',
  '2024-13',
  '1999-12',
  '3000-01',
  'pm_card_visa',
  'a'.repeat(500),
  'a'.repeat(501),
  'a\u0000b', // an unpaired surrogate cannot be percent-encoded at all: Express refuses the URL first
  ['1', '2'],
];

/** Sent as a JSON body property; undefined leaves it out. NUL in JSON text is the body parser's rule, not tried. */
const JSON_VALUES: unknown[] = [
  undefined,
  'x',
  '',
  'pm_card_visa',
  'card_visa',
  '4242424242424242',
  'pm_bad id',
  'a'.repeat(500),
  'a'.repeat(501),
  0,
  4711,
  -1,
  1.5,
  2 ** 53,
  1e21,
  true,
  null,
  [4711],
  { id: 4711 },
];

/** Whole usage bodies. */
const USAGE_BODIES: unknown[] = [[], [1, 'x', {}], { events: [] }, { events: 'x' }, { hello: 1 }, 'x', 1, null];

/** Values the document allows that a service still refuses on their meaning: a cursor the server never issued. */
const MEANINGFUL_REFUSALS: Record<string, string[]> = { cursor: ['invalid_cursor'] };

function documentAjv(document: Document): { compile(schema: Schema): ValidateFunction } {
  const ajv = new Ajv2020({ allowUnionTypes: true, strict: false });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: 'x-storable',
    type: 'string',
    validate: (enabled: boolean, data: string) => !enabled || isStorableText(data),
  });
  const toDefs = (schema: unknown) =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/$defs/'));
  ajv.addSchema({ $id: 'components', $defs: toDefs(document.components.schemas) });
  return { compile: (schema) => ajv.compile(toDefs(schema)) };
}

/** A query value as OpenAPI reads it: text, a number for an `integer` schema, absent when empty if allowed. */
function asDocumentReadsIt(parameter: Parameter, value: string | string[]): unknown {
  const types = ([] as unknown[]).concat(parameter.schema.type ?? []);
  if (value === '' && parameter.allowEmptyValue) {
    return undefined;
  }
  if (typeof value === 'string' && types.includes('integer') && !types.includes('string') && /^-?\d+$/.test(value)) {
    return Number(value);
  }
  return value;
}

function fill(path: string, params: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name]));
}

function query(params: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of ([] as string[]).concat(value)) {
      search.append(name, item);
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

describe('request validation is the OpenAPI document', () => {
  let s: RestServer;
  let token: string;
  let document: Document;
  let ajv: ReturnType<typeof documentAjv>;

  beforeAll(async () => {
    s = await startRestServer();
    token = await s.t.token('validation-service', Role.SERVICE);
    document = (await s.call('GET', '/api/v1/openapi.json')).body as Document;
    ajv = documentAjv(document);
  });
  afterAll(() => s.close());

  const ROUTES: Array<{ path: string; method: string; base: Record<string, string>; body?: object }> = [
    { path: '/api/v1/billing/invoice/{month}/create', method: 'post', base: { month: '2024-01' } },
    { path: '/api/v1/billing/invoices', method: 'get', base: {} },
    { path: '/api/v1/billing/invoice/{invoice_id}', method: 'get', base: { invoice_id: MISSING } },
    {
      path: '/api/v1/billing/invoice/{invoice_id}/pay',
      method: 'post',
      base: { invoice_id: MISSING },
      body: { payment_method_id: 'pm_card_visa' },
    },
    { path: '/api/v1/billing/invoice/{invoice_id}/cancel', method: 'post', base: { invoice_id: MISSING }, body: {} },
    // Admins only: this service token is refused (403) once the request is valid, never before.
    { path: '/api/v1/billing/payment-attempt-blocks', method: 'get', base: {} },
    {
      path: '/api/v1/billing/payment-attempt-limits/lift',
      method: 'post',
      base: {},
      body: { invoice_id: MISSING },
    },
  ];

  /** The refusal problem, if any: invalid must be a 400/422 naming `name`; valid must not be. */
  function mismatch(name: string, valid: boolean, res: RestResponse): string | null {
    const refused = (res.status === 400 || res.status === 422) && res.body?.error?.param === name;
    const meaningful = MEANINGFUL_REFUSALS[name]?.includes(res.body?.error?.code);
    if (valid && refused && !meaningful) {
      return `the document allows it, the route refused it: ${res.status} ${res.text}`;
    }
    if (!valid && !refused) {
      return `the document refuses it, the route answered ${res.status} ${res.text}`;
    }
    return null;
  }

  it.each(ROUTES.map((route) => [`${route.method.toUpperCase()} ${route.path}`, route] as const))(
    '%s: every path and query parameter',
    async (_name, route) => {
      const operation = document.paths[route.path][route.method];
      const problems: string[] = [];
      for (const parameter of (operation.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query')) {
        const validate = ajv.compile(parameter.schema);
        for (const value of TEXT_VALUES) {
          if (parameter.in === 'path' && Array.isArray(value)) {
            continue;
          }
          const read = asDocumentReadsIt(parameter, value);
          const valid = read === undefined || validate(read);
          const pathParams = {
            ...route.base,
            ...(parameter.in === 'path' ? { [parameter.name]: value as string } : {}),
          };
          const url =
            fill(route.path, pathParams) + (parameter.in === 'query' ? query({ [parameter.name]: value }) : '');
          const res = await s.call(route.method.toUpperCase(), url, { token, json: route.body });
          const problem = mismatch(parameter.name, valid, res);
          if (problem) {
            problems.push(`${parameter.name}=${JSON.stringify(value).slice(0, 40)}: ${problem}`);
          }
        }
      }
      expect(problems).toEqual([]);
    },
  );

  it.each(
    ROUTES.filter((route) => route.body).map(
      (route) => [`${route.method.toUpperCase()} ${route.path}`, route] as const,
    ),
  )('%s: every JSON body property', async (_name, route) => {
    const schema = document.paths[route.path][route.method].requestBody?.content['application/json'].schema as Schema;
    const validate = ajv.compile(schema);
    const name = String(schema.$ref).replace('#/components/schemas/', '');
    const properties = Object.keys(document.components.schemas[name].properties as object);
    expect(properties.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const property of properties) {
      for (const value of JSON_VALUES) {
        const body: Record<string, unknown> = { ...route.body, [property]: value };
        if (value === undefined) {
          delete body[property];
        }
        const res = await s.call(route.method.toUpperCase(), fill(route.path, route.base), { token, json: body });
        const problem = mismatch(property, validate(body), res);
        if (problem) {
          problems.push(`${property}=${JSON.stringify(value)?.slice(0, 40)}: ${problem}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('POST /api/v1/usage: the batch envelope', async () => {
    const schema = document.paths['/api/v1/usage'].post.requestBody?.content['application/json'].schema as Schema;
    const validate = ajv.compile(schema);
    expect(validate(new Array(10_001).fill({}))).toBe(false);
    const problems: string[] = [];
    for (const body of [...USAGE_BODIES, new Array(10_001).fill({})]) {
      const res = await s.call('POST', '/api/v1/usage', { token, json: body });
      // express.json takes only an object or an array (`invalid_json`); the schema refuses the rest.
      const refused = res.status === 400 && ['invalid_request', 'invalid_json'].includes(res.body.error.code);
      if (refused === validate(body)) {
        problems.push(`${JSON.stringify(body).slice(0, 40)}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('keeps the codes clients rely on, names the rule and never echoes the value', async () => {
    const card = '4242424242424242';
    const declined = await s.call('POST', `/api/v1/billing/invoice/${MISSING}/pay`, {
      token,
      json: { payment_method_id: card },
    });
    expect(declined.status).toBe(422);
    expect(declined.body.error).toMatchObject({ code: 'invalid_payment_method', param: 'payment_method_id' });
    expect(declined.text).not.toContain(card);
    const limit = await s.call('GET', '/api/v1/billing/invoices?limit=1000', { token });
    expect(limit.body.error).toEqual({
      code: 'invalid_limit',
      message: 'limit must be an integer from 1 to 100',
      param: 'limit',
    });
    const long = await s.call('GET', `/api/v1/billing/invoices?cursor=${'s'.repeat(501)}`, { token });
    expect(long.body.error).toEqual({
      code: 'invalid_request',
      message: 'cursor must be at most 500 characters',
      param: 'cursor',
    });
    const month = await s.call('POST', '/api/v1/billing/invoice/1999-12/create', { token });
    expect(month.body.error).toMatchObject({ code: 'invalid_month', param: 'month' });
    expect(month.body.error.message).toMatch(/^month must match /);
  });
});
