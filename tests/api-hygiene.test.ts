import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { GraphQLError, buildClientSchema, getIntrospectionQuery, print } from 'graphql';
import type { IntrospectionQuery } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';
import { createLogger } from '../src/config/logger';
import { createErrorFormatter } from '../src/resolvers/format-error';
import { ForbiddenError } from '../src/services/shared/errors';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer, wsExecute } from './helpers/server';

const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://billing@127.0.0.1:5432/unused',
  STRIPE_SECRET_KEY: 'sk_test_hygienecheck0000000000',
  STRIPE_WEBHOOK_SECRET: 'whsec_hygienecheck000000000',
  // Production refuses to start without the key that seals endpoint signing secrets: a fresh one per run.
  SECRETS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

type Errors = Array<{ message: string; extensions?: Record<string, unknown> }>;

/** The errors of one operation over graphql-ws, whether they came as an `error` message or in a result. */
async function wsErrors(client: WsClient, query: string, variables?: Record<string, unknown>): Promise<Errors> {
  try {
    const result = await wsExecute(client, query, variables);
    return (result.errors ?? []) as unknown as Errors;
  } catch (errors) {
    return errors as Errors;
  }
}

/** The same operation over HTTP and over graphql-ws: their errors, which must be the same. */
async function bothTransports(t: TestServer, token: string, query: string, variables?: Record<string, unknown>) {
  const http = (await t.gql(query, variables, { token })).body.errors ?? [];
  const ws = await wsErrors(t.wsClient(token), query, variables);
  return { http, ws };
}

/**
 * A failure nobody planned for, through the real stack: the user's Stripe customer was deleted in the Stripe
 * dashboard, so Stripe answers their next invoice with "No such customer: 'cus_…'". Returns the user's token.
 */
async function userWhoseStripeCustomerIsGone(t: TestServer, userId: string): Promise<string> {
  await seedDefaultCatalogue(t.database.db.orm.em.fork());
  const op = await operator(t);
  const usage = (occurredAt: string) => ({ userId, metric: 'llm_input_tokens', quantity: '1000000', occurredAt });
  await op.record([usage('2024-01-15T10:00:00Z'), usage('2024-02-15T10:00:00Z')]);
  const token = await t.token(userId);
  const first = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
  if (first.body.data?.createInvoice.__typename !== 'Invoice') {
    throw new Error(`expected an invoice, got ${JSON.stringify(first.body)}`);
  }
  const invoiceId = first.body.data.createInvoice.id;
  const stripeInvoice = (await t.stripe.invoices.list({ limit: 100 })).data.find(
    (i) => i.metadata?.agenthub_invoice_id === invoiceId,
  );
  await t.stripe.customers.del(stripeInvoice?.customer as string);
  return token;
}

describe('operation limits', () => {
  let t: TestServer;
  let token: string;
  beforeAll(async () => {
    t = await startTestServer();
    token = await t.token('limits-user');
  });
  afterAll(() => t.close());

  const validationError = async (query: string): Promise<string> => {
    const res = await t.gql(query, undefined, { token });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    return res.body.errors?.[0].message ?? '';
  };

  it('refuses too many aliases', async () => {
    const fields = Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(' ');
    expect(await validationError(`query Many { ${fields} }`)).toMatch(/alias limit: 31 > 30/);
  });

  it('refuses an operation whose cost is too high, counting fragment expansion', async () => {
    const fields = Array.from({ length: 25 }, (_, i) => `f${i}: me { ...C }`).join(' ');
    const fragment = `fragment C on Customer { ${'id userId email name createdAt '.repeat(20)} }`;
    expect(await validationError(`query Costly { ${fields} } ${fragment}`)).toMatch(/cost limit/);
  });

  it('refuses a fragment bomb at once, and the server stays responsive', async () => {
    // F39 expands to 2^39 fields: measured naively that hangs the event loop for every client.
    const fragments = ['fragment F0 on Invoice { id }'];
    for (let i = 1; i < 40; i += 1) {
      fragments.push(`fragment F${i} on Invoice { ...F${i - 1} ...F${i - 1} }`);
    }
    // Measured naively this never returns within the test's timeout.
    const message = await validationError(`{ invoices { edges { node { ...F39 } } } } ${fragments.join(' ')}`);
    expect(message).toMatch(/cost limit/);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it('answers a subscription sent over HTTP with a 400 that points to WebSocket, not an internal error', async () => {
    const res = await t.gql('subscription { paymentStatusChanged { status } }', undefined, { token });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]).toEqual({
      message: expect.stringMatching(/WebSocket/),
      extensions: { code: 'BAD_REQUEST' },
    });
  });

  it('refuses documents with too many tokens before validating them', async () => {
    const res = await t.gql(`{ me { ${'id '.repeat(6000)} } }`, undefined, { token });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0].message).toMatch(/more that 5000 tokens/);
  });

  it('applies the same limits over graphql-ws', async () => {
    const fields = Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(' ');
    await expect(wsExecute(t.wsClient(token), `query Many { ${fields} }`)).rejects.toEqual(
      expect.arrayContaining([expect.objectContaining({ message: expect.stringMatching(/alias limit/) })]),
    );
  });

  it('allows introspection and suggestions outside production', async () => {
    const res = await t.gql('{ __schema { queryType { name } } }', undefined, { token });
    expect(res.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const typo = await t.gql('{ mee { id } }', undefined, { token });
    expect(typo.body.errors?.[0].message).toMatch(/Did you mean "me"/);
  });

  it("answers the standard introspection query (GraphiQL's, codegen's) outside production: ofType chains add no depth", async () => {
    // Refused before ("exceeds the depth limit: 15 > 12"): its TypeRef fragment nests ofType 7 deep.
    const res = await t.gql(getIntrospectionQuery({ inputValueDeprecation: true }), undefined, { token });
    expect(res.body.errors).toBeUndefined();
    expect(buildClientSchema(res.body.data as IntrospectionQuery).getQueryType()?.name).toBe('Query');
    // Depth still counts everywhere else, introspection included.
    const deep = `{ __schema { types { fields { type { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } } } }`;
    expect(await validationError(deep)).toMatch(/depth limit: 13 > 12/);
  });

  it('allows introspection over graphql-ws outside production', async () => {
    const result = await wsExecute(t.wsClient(token), '{ __schema { queryType { name } } }');
    expect(result).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });
});

describe('development mode over graphql-ws', () => {
  let t: TestServer;
  let token: string;
  beforeAll(async () => {
    t = await startTestServer({ NODE_ENV: 'development' });
    token = await t.token('dev-user');
  });
  afterAll(() => t.close());

  it.each([
    ['a syntax error', '{ me { id }', undefined, 'GRAPHQL_PARSE_FAILED'],
    ['an unknown field (with its suggestion)', '{ mee { id } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
    [
      'two operations and no operation name',
      'query A { me { id } } query B { me { id } }',
      undefined,
      'OPERATION_RESOLUTION_FAILURE',
    ],
    [
      'a variable of the wrong type',
      'query ($first: Int) { invoices(first: $first) { totalCount } }',
      { first: 'many' },
      'BAD_USER_INPUT',
    ],
    ['a missing invoice', '{ invoice(id: "0b7e4c8e-3f1a-4d2b-9c6e-5a4f3e2d1c0b") { id } }', undefined, 'NOT_FOUND'],
  ])('answers %s with its extensions.code, as over HTTP', async (_what, query, variables, code) => {
    const { http, ws } = await bothTransports(t, token, query, variables);
    expect(ws).toHaveLength(1);
    expect(ws[0].extensions?.code).toBe(code);
    expect(ws).toEqual(http);
  });

  it('keeps field suggestions outside production', async () => {
    const { ws } = await bothTransports(t, token, '{ mee { id } }');
    expect(ws[0].message).toMatch(/Did you mean "me"/);
  });

  it('shows an unexpected error with its message, code and stack trace, as over HTTP', async () => {
    const user = await userWhoseStripeCustomerIsGone(t, 'dev-gone');
    const query = print(CreateInvoiceDocument);
    const { http, ws } = await bothTransports(t, user, query, { period: '2024-02' });
    const withoutStack = (errors: Errors) =>
      errors.map(({ extensions, ...rest }) => ({ ...rest, extensions: { ...extensions, stacktrace: 'omitted' } }));
    expect(withoutStack(ws)).toEqual(withoutStack(http));
    expect(ws).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/No such customer/),
        path: ['createInvoice'],
        extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: expect.any(Array) },
      }),
    ]);
  });
});

describe('production mode', () => {
  let t: TestServer;
  let token: string;
  const logged: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged.push(
          ...String(chunk)
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line)),
        );
        done();
      },
    });
    t = await startTestServer(PRODUCTION_ENV, { logger: createLogger({ logLevel: 'error' }, sink) });
    token = await t.token('prod-user');
  });
  afterAll(() => t.close());

  it('turns introspection off', async () => {
    const res = await t.gql('{ __schema { queryType { name } } }', undefined, { token });
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors?.length).toBeGreaterThan(0);
    for (const error of res.body.errors ?? []) {
      // graphql's NoSchemaIntrospectionCustomRule: one error per introspection field asked for.
      expect(error).toMatchObject({
        message: expect.stringMatching(/introspection has been disabled/i),
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      });
    }
  });

  it('turns introspection off over graphql-ws too, with the same answer', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name } }']) {
      const { http, ws } = await bothTransports(t, token, query);
      expect(ws.length).toBeGreaterThan(0);
      for (const error of ws) {
        expect(error).toMatchObject({
          message: expect.stringMatching(/introspection has been disabled/i),
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        });
      }
      expect(ws).toEqual(http);
    }
  });

  it('gives no field suggestions and no stack traces', async () => {
    const res = await t.gql('{ mee { id } }', undefined, { token });
    expect(res.body.errors?.[0].message).not.toMatch(/Did you mean/);
    expect(JSON.stringify(res.body)).not.toMatch(/stacktrace/);
  });

  it('gives no field, argument or enum value suggestions over graphql-ws either', async () => {
    for (const [query, variables] of [
      ['{ mee { id } }', undefined],
      ['{ invoices(frist: 1) { totalCount } }', undefined],
      ['{ invoices(status: PAYD) { totalCount } }', undefined],
      ['query ($s: InvoiceStatus) { invoices(status: $s) { totalCount } }', { s: 'PAYD' }],
    ] as const) {
      const { http, ws } = await bothTransports(t, token, query, variables);
      expect(ws).toHaveLength(1);
      expect(ws[0].message).not.toMatch(/Did you mean/);
      expect(ws[0].extensions?.code).toMatch(/^(GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT)$/);
      expect(JSON.stringify(ws)).not.toMatch(/stacktrace/);
      expect(ws).toEqual(http);
    }
  });

  it('hides an unexpected error behind "Internal server error" over graphql-ws, as over HTTP', async () => {
    const user = await userWhoseStripeCustomerIsGone(t, 'prod-gone');
    const { http, ws } = await bothTransports(t, user, print(CreateInvoiceDocument), { period: '2024-02' });
    expect(ws).toEqual([
      {
        message: 'Internal server error',
        locations: [expect.any(Object)],
        path: ['createInvoice'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(ws).toEqual(http);
    // The original is logged (once per transport, the WebSocket one with its request id), never sent.
    const lines = logged.filter((l) => l.msg === 'unexpected error in GraphQL operation');
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.transport === 'ws')).toMatchObject({
      requestId: expect.any(String),
      err: { message: expect.stringMatching(/No such customer/) },
    });
  });

  it('still serves authenticated queries', async () => {
    const res = await t.gql('{ me { userId } }', undefined, { token });
    expect(res.body.data).toEqual({ me: { userId: 'prod-user' } });
  });
});

describe('error formatting', () => {
  const resolverError = (original: Error): GraphQLError =>
    new GraphQLError(original.message, { path: ['me'], originalError: original });

  it('hides unexpected errors behind INTERNAL_SERVER_ERROR outside development', () => {
    const format = createErrorFormatter({ exposeDetails: false });
    const error = resolverError(new Error('connect ECONNREFUSED postgres://billing:hunter2@db'));
    const formatted = format({ message: error.message, path: ['me'], extensions: { stacktrace: ['at x'] } }, error);
    expect(formatted).toEqual({
      message: 'Internal server error',
      path: ['me'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('never sends a stack trace for a client mistake, even in development', () => {
    const format = createErrorFormatter({ exposeDetails: true });
    const error = new GraphQLError('Cannot query field "mee" on type "Query".', {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const formatted = format(
      { message: error.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED', stacktrace: ['at x'] } },
      error,
    );
    expect(formatted).toEqual({ message: error.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });

  it('strips field suggestions from client mistakes only when told to hide schema details', () => {
    const error = new GraphQLError('Cannot query field "mee" on type "Query". Did you mean "me"?', {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const formatted = { message: error.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } };
    expect(createErrorFormatter({ exposeDetails: false, hideSchemaDetails: true })(formatted, error).message).toBe(
      'Cannot query field "mee" on type "Query".',
    );
    expect(createErrorFormatter({ exposeDetails: true })(formatted, error).message).toBe(error.message);
  });

  it('maps domain errors to their code with their message', () => {
    const format = createErrorFormatter({ exposeDetails: false });
    const error = resolverError(new ForbiddenError('Not yours'));
    expect(format({ message: error.message, path: ['me'] }, error)).toEqual({
      message: 'Not yours',
      path: ['me'],
      extensions: { code: 'FORBIDDEN' },
    });
  });
});
