import fc from 'fast-check';
import Stripe from 'stripe';
import { openApiDocument } from '../../src/http/openapi';
import { DEFAULT_CATALOGUE } from '../../src/services/usage/seed-catalogue.service';
import { TEST_WEBHOOK_SECRET } from '../helpers/server';
import { undocumented } from '../rest/rest-harness';
import type { FuzzTarget } from './fuzz-harness';
import {
  Findings,
  anyJson,
  answerProblems,
  deepJson,
  explainFailure,
  fuzzParameters,
  hangGuard,
  hostileNumber,
  hostileString,
  rawNumber,
} from './fuzz-harness';

/**
 * Every route of the OpenAPI document (`src/http/openapi.ts`), with hostile paths, query strings, headers and bodies:
 * path parameters of any text (and broken percent-encoding), the documented query parameters and unknown ones,
 * repeated or in brackets, bodies built from the documented schemas with values of every type, malformed JSON, deep
 * nesting, the wrong charset or encoding, and Stripe webhooks signed with the real secret around hostile payloads.
 * Whatever it is sent: no 5xx, no stack trace or file path, no SQL, nothing logged as an unexpected failure, an
 * answer within the budget, and every answer is one the document describes for that route.
 */
const RUNS_PER_ROUTE = 28;

type Schema = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

const schemas = openApiDocument.components.schemas as unknown as Record<string, Schema>;
const resolve = (schema: Schema): Schema =>
  typeof schema.$ref === 'string' ? schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;

/** A value for a documented schema: mostly of its type (examples and known values first), sometimes anything. */
function valueFor(schemaOrRef: Schema, known: fc.Arbitrary<string>, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(schemaOrRef);
  const types = ([] as string[]).concat((schema.type as string | string[] | undefined) ?? []);
  const options: Array<fc.Arbitrary<unknown>> = [];
  if (Array.isArray(schema.examples) && schema.examples.length > 0) {
    options.push(fc.constantFrom(...(schema.examples as unknown[])));
  }
  if (types.includes('string')) {
    options.push(known, known, hostileString);
  }
  if (types.includes('integer') || types.includes('number')) {
    options.push(hostileNumber, fc.integer({ min: -1, max: 200 }));
  }
  if (types.includes('object') && schema.properties && depth < 3) {
    const properties = schema.properties as Record<string, Schema>;
    options.push(
      fc
        .record(
          Object.fromEntries(Object.entries(properties).map(([key, sub]) => [key, valueFor(sub, known, depth + 1)])),
          // What the document requires is mostly there (so the route gets past its validation), sometimes not.
          { requiredKeys: [] },
        )
        .chain((value) =>
          fc
            .constantFrom(1, 2, 3, 4)
            .chain((roll) =>
              roll > 1
                ? fc
                    .record(
                      Object.fromEntries(
                        ((schema.required as string[] | undefined) ?? []).map((key) => [
                          key,
                          valueFor(properties[key], known, depth + 1),
                        ]),
                      ),
                    )
                    .map((required) => ({ ...value, ...required }))
                : fc.constant(value),
            ),
        ),
    );
  }
  if (types.includes('array') && depth < 3) {
    // A usage batch's items are checked one by one by the service: events shaped as documented, or anything.
    const item = schema.items as Schema | undefined;
    const itemValue =
      item && (item.type || item.$ref)
        ? valueFor(item, known, depth + 1)
        : valueFor(schemas.UsageEvent, known, depth + 1);
    options.push(fc.array(fc.oneof(itemValue, anyJson), { maxLength: 3 }));
  }
  if (schema.allOf) {
    options.push(...(schema.allOf as Schema[]).map((part) => valueFor(part, known, depth)));
  }
  if (options.length === 0) {
    options.push(anyJson);
  }
  return fc.oneof(
    { weight: 6, arbitrary: fc.oneof(...options) },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.constant(null) },
  );
}

/** Values the server accepts, by parameter or property name (`known` for the rest). */
let FINE: Record<string, fc.Arbitrary<string>> = {};

/** A value the document allows for `schema` (property `name`): how a client that reads the document calls. */
function fineFor(schemaOrRef: Schema, known: fc.Arbitrary<string>, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (FINE[name]) {
    return FINE[name];
  }
  const schema = resolve(schemaOrRef);
  const types = ([] as string[]).concat((schema.type as string | string[] | undefined) ?? []);
  if (schema.allOf) {
    return fineFor((schema.allOf as Schema[])[0], known, name, depth);
  }
  if (types.includes('array') && depth < 3) {
    const item = schema.items as Schema | undefined;
    return fc.array(fineFor(item && (item.type || item.$ref) ? item : schemas.UsageEvent, known, '', depth + 1), {
      minLength: 1,
      maxLength: 3,
    });
  }
  if (types.includes('object') && depth < 3) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    return fc.record(
      Object.fromEntries(Object.entries(properties).map(([key, sub]) => [key, fineFor(sub, known, key, depth + 1)])),
      { requiredKeys: (schema.required as string[] | undefined) ?? [] },
    );
  }
  if (types.includes('string')) {
    return Array.isArray(schema.examples) ? fc.constantFrom(...(schema.examples as string[])) : known;
  }
  if (types.includes('integer') || types.includes('number')) {
    return fc.integer({ min: 1, max: 100 });
  }
  return fc.constant(null);
}

/** A path or query value written into a URL: percent-encoded as a client would, or broken on purpose. */
const urlText = (value: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: value.map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, ''))) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '%',
        '%ZZ',
        '%00',
        '%C0%AF',
        '%ED%A0%80',
        '%FF%FE',
        '%E0%A4%A',
        '%uD800',
        '..',
        '%2e%2e',
        '%2F',
        '.',
        '',
        '+',
        '%20',
        ';x=1',
        '%0d%0aX-Injected:%201',
      ),
    },
  );

const contentTypes = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=bogus',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
);

const stripeId = (prefix: string): fc.Arbitrary<string> =>
  fc
    .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 8, maxLength: 24 })
    .map((hex) => `${prefix}_${hex}`);

/** A Stripe event around an invoice of ours (or not), as Stripe would sign and send it, with hostile fields. */
function stripeEvents(known: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  const text = fc.oneof(known, hostileString);
  return fc.record(
    {
      id: fc.oneof(stripeId('evt'), text),
      object: fc.constant('event'),
      api_version: fc.constantFrom('2026-10-28.endive', '2020-08-27', ''),
      type: fc.oneof(
        fc.constantFrom(
          'invoice.paid',
          'invoice.payment_failed',
          'invoice.finalized',
          'invoice.voided',
          'invoice.sent',
          'invoice.payment_action_required',
          'invoice.marked_uncollectible',
          'customer.created',
        ),
        text,
      ),
      created: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), hostileNumber),
      livemode: fc.boolean(),
      data: fc.record({
        object: fc.record(
          {
            id: fc.oneof(stripeId('in'), text),
            object: fc.constantFrom('invoice', 'customer', 'charge'),
            status: fc.oneof(fc.constantFrom('draft', 'open', 'paid', 'void', 'uncollectible'), text),
            metadata: fc.oneof(fc.record({ agenthub_invoice_id: text }), anyJson),
            amount_due: fc.oneof(fc.integer({ min: 0, max: 10 ** 7 }), hostileNumber),
            amount_paid: fc.oneof(fc.integer({ min: 0, max: 10 ** 7 }), hostileNumber),
            currency: fc.oneof(fc.constantFrom('usd', 'jpy'), text),
          },
          { requiredKeys: ['id', 'object'] },
        ),
      }),
    },
    { requiredKeys: ['id', 'object', 'type', 'data'] },
  );
}

/** A body as bytes: JSON of a documented or arbitrary value, or text no JSON parser takes, or no body. */
function bodies(operation: Operation, known: fc.Arbitrary<string>): fc.Arbitrary<string | Buffer | null> {
  const documented = operation.requestBody?.content['application/json']?.schema;
  const webhook = operation === webhookOperation;
  const json = (
    webhook ? fc.oneof(stripeEvents(known), anyJson) : documented ? valueFor(documented, known) : anyJson
  ).map((value) => JSON.stringify(value) ?? 'null');
  return fc.oneof(
    { weight: 8, arbitrary: json },
    { weight: 1, arbitrary: fc.constant(null) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '{"payment_method_id":',
        'nul',
        '\u0000',
        '[1,2',
        '{"payment_method_id":"pm_card_visa"} trailing',
        '{"payment_method_id":"pm_card_visa","payment_method_id":"pm_card_chargeDeclined"}',
        '{"__proto__":{"admin":true},"payment_method_id":"pm_card_visa"}',
        '{"reason":"\\ud800"}',
        '{"reason":"a\\u0000b"}',
        '"just a string"',
        'x'.repeat(20_000),
      ),
    },
    { weight: 1, arbitrary: deepJson },
    { weight: 1, arbitrary: rawNumber.map((n) => `{"user_id":${n},"payment_method_id":"pm_card_visa","reason":${n}}`) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)) },
  );
}

const webhookOperation = (openApiDocument.paths as unknown as Record<string, Record<string, Operation>>)[
  '/api/v1/webhooks/stripe'
].post;

interface Route {
  method: string;
  template: string;
  operation: Operation;
}

const routes: Route[] = Object.entries(
  openApiDocument.paths as unknown as Record<string, Record<string, Operation>>,
).flatMap(([template, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), template, operation })),
);

export async function fuzzRest({ t, tokens, invoiceIds, takeFailures }: FuzzTarget): Promise<Findings> {
  const findings = new Findings('rest');
  const statuses = new Map<string, number>();
  FINE = {
    invoice_id: fc.constantFrom(...invoiceIds),
    month: fc.constantFrom('2024-01', '2024-02', '2024-03', '2099-01'),
    user_id: fc.constantFrom('fuzz-user', ''),
    userId: fc.constantFrom('fuzz-user', 'fuzz-other'),
    limit: fc.constantFrom('1', '50', '100', ''),
    cursor: fc.constant(''),
    reason: fc.constantFrom('fuzzed', ''),
    payment_method_id: fc.constantFrom('pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_authenticationRequired'),
    metric: fc.constantFrom(...DEFAULT_CATALOGUE.map((metric) => metric.code)),
    quantity: fc.constantFrom('1', '2.5', '1000'),
    occurredAt: fc.constantFrom('2024-02-10T10:00:00Z', '2024-03-01T00:00:00.000Z', '2099-01-01T00:00:00Z'),
    idempotencyKey: stripeId('fuzz'),
    agentId: fc.constantFrom('agent-1'),
  };
  const known = fc.constantFrom(
    ...invoiceIds,
    'fuzz-user',
    'fuzz-other',
    '2024-01',
    '2024-02',
    'pm_card_visa',
    'pm_card_chargeDeclined',
    'llm_input_tokens',
  );
  if (!routes.some((route) => route.template === '/api/v1/billing/invoice/{invoice_id}/pay')) {
    throw new Error('the OpenAPI document lists no pay route');
  }

  /**
   * A request to `route`: a well-formed one (a caller who may, documented parameters with values the server knows, a
   * documented body) with up to three of its parts made hostile, so that many requests reach the services and
   * each part is attacked on its own as well as together.
   */
  const requests = (route: Route) => {
    const parameters = route.operation.parameters ?? [];
    const pathNames = [...route.template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
    const queryNames = parameters.filter((p) => p.in === 'query').map((p) => p.name);
    const text = fc.oneof({ weight: 3, arbitrary: known }, { weight: 2, arbitrary: hostileString });
    const queryPair = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...queryNames, 'unknown'), urlText(text)) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...queryNames.map((n) => `${n}[]`), 'a[b]'), urlText(text)) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...queryNames, '', '='), fc.constantFrom('', '%', '&')) },
    );
    const fineValue = (name: string): fc.Arbitrary<string> => FINE[name] ?? known;
    const fine = {
      method: fc.constant(route.method),
      path: fc
        .tuple(...pathNames.map((name) => fineValue(name).map(encodeURIComponent)))
        .map((values) => pathNames.reduce((path, name, i) => path.replace(`{${name}}`, values[i]), route.template)),
      query: fc
        .subarray(queryNames)
        .chain((names) =>
          fc.tuple(...names.map((name) => fineValue(name).map((v) => `${name}=${encodeURIComponent(v)}`))),
        )
        .map((pairs) => pairs.join('&')),
      role: fc.constantFrom('admin', 'service', 'owner'),
      contentType: fc.constant('application/json'),
      contentEncoding: fc.constant(null),
      body: (route.operation === webhookOperation
        ? stripeEvents(known)
        : route.operation.requestBody
          ? fineFor(route.operation.requestBody.content['application/json'].schema, known)
          : fc.constant(null)
      ).map((value) => (value === null ? null : JSON.stringify(value))),
      signature: fc.constant('valid'),
    };
    const hostile: { [K in keyof typeof fine]: fc.Arbitrary<unknown> } = {
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      path: fc
        .tuple(...pathNames.map(() => urlText(text)))
        .map((values) => pathNames.reduce((path, name, i) => path.replace(`{${name}}`, values[i]), route.template)),
      query: fc
        .array(queryPair, { minLength: 1, maxLength: 4 })
        .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&')),
      role: fc.constantFrom('stranger', 'anonymous', 'garbage'),
      contentType: contentTypes,
      contentEncoding: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown'),
      body: bodies(route.operation, known),
      signature: fc.constantFrom('future', 'garbage', 'none'),
    };
    const parts = Object.keys(fine) as Array<keyof typeof fine>;
    return fc
      .oneof(
        { weight: 1, arbitrary: fc.constant([] as Array<keyof typeof fine>) },
        { weight: 3, arbitrary: fc.subarray(parts, { minLength: 1, maxLength: 3 }) },
      )
      .chain((broken) =>
        fc.record(
          Object.fromEntries(parts.map((part) => [part, broken.includes(part) ? hostile[part] : fine[part]])) as {
            [K in keyof typeof fine]: fc.Arbitrary<unknown>;
          },
        ),
      )
      .map(
        (request) =>
          ({ ...request, broken: undefined }) as unknown as {
            method: string;
            path: string;
            query: string;
            role: keyof FuzzTarget['tokens'];
            contentType: string;
            contentEncoding: string | null;
            body: string | Buffer | null;
            signature: string;
          },
      );
  };

  const signature = (kind: string, payload: string): string | null => {
    const now = Math.floor(Date.now() / 1000);
    switch (kind) {
      case 'valid':
        return Stripe.webhooks.generateTestHeaderString({ payload, secret: TEST_WEBHOOK_SECRET, timestamp: now });
      case 'future':
        return Stripe.webhooks.generateTestHeaderString({
          payload,
          secret: TEST_WEBHOOK_SECRET,
          timestamp: now + 86_400,
        });
      case 'garbage':
        return `t=${now},v1=${'0'.repeat(64)},v0=x,,=`;
      default:
        return null;
    }
  };

  const parameters = fuzzParameters('rest', RUNS_PER_ROUTE);
  findings.begin();
  for (const route of routes) {
    await fc.assert(
      fc.asyncProperty(requests(route), async (request) => {
        const url = `${t.url}${request.path}${request.query ? `?${request.query}` : ''}`;
        const headers: Record<string, string> = {};
        const token = tokens[request.role];
        if (token) {
          headers.authorization = `Bearer ${token}`;
        }
        if (request.contentType) {
          headers['content-type'] = request.contentType;
        }
        if (request.contentEncoding) {
          headers['content-encoding'] = request.contentEncoding;
        }
        const withBody = request.body !== null && !['GET', 'HEAD'].includes(request.method);
        if (withBody && request.path.includes('/webhooks/stripe')) {
          const header = signature(request.signature, Buffer.from(request.body as string | Buffer).toString());
          if (header) {
            headers['stripe-signature'] = header;
          }
        }
        const what = `${request.method} ${url.slice(0, 300)} as ${request.role} ${JSON.stringify(headers).slice(0, 200)} body ${String(request.body).slice(0, 200)}`;
        let res: Response;
        let text: string;
        try {
          res = await fetch(url, {
            method: request.method,
            headers,
            body: withBody ? (request.body as string | Buffer) : undefined,
            signal: hangGuard(),
          });
          text = await res.text();
        } catch (error) {
          return explainFailure(error, what);
        }
        statuses.set(`${route.template} ${res.status}`, (statuses.get(`${route.template} ${res.status}`) ?? 0) + 1);
        const problems = answerProblems(text);
        if (res.status >= 500) {
          problems.push(`HTTP ${res.status}: ${text.slice(0, 300)}`);
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        // What the document says this route answers. HEAD and OPTIONS are the framework's, and 431 (a URL over
        // 16 KB) is Node's HTTP parser's: no route runs.
        if (request.method !== 'HEAD' && request.method !== 'OPTIONS' && res.status !== 431) {
          problems.push(...undocumented(request.method, new URL(url).pathname, res.status, parsed));
        }
        problems.push(...takeFailures());
        findings.check(problems, what);
      }),
      parameters,
    );
  }
  findings.summary(`answers by route and status: ${JSON.stringify(Object.fromEntries(statuses))}`);
  return findings;
}
