import { GraphQLError } from 'graphql';
import { createErrorFormatter } from '../src/resolvers/format-error';
import { ForbiddenError } from '../src/services/errors';
import type { TestServer } from './helpers/server';
import { startTestServer, wsExecute } from './helpers/server';

const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://billing@127.0.0.1:5432/unused',
  STRIPE_SECRET_KEY: 'sk_test_hygienecheck0000000000',
  STRIPE_WEBHOOK_SECRET: 'whsec_hygienecheck000000000',
};

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
    const fragments = ['fragment F0 on InvoiceType { id }'];
    for (let i = 1; i < 40; i += 1) {
      fragments.push(`fragment F${i} on InvoiceType { ...F${i - 1} ...F${i - 1} }`);
    }
    // Measured naively this never returns within the test's timeout.
    const message = await validationError(`{ invoices { edges { node { ...F39 } } } } ${fragments.join(' ')}`);
    expect(message).toMatch(/cost limit/);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
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
});

describe('production mode', () => {
  let t: TestServer;
  let token: string;
  beforeAll(async () => {
    t = await startTestServer(PRODUCTION_ENV);
    token = await t.token('prod-user');
  });
  afterAll(() => t.close());

  it('turns introspection off', async () => {
    const res = await t.gql('{ __schema { queryType { name } } }', undefined, { token });
    expect(res.body.errors?.[0].message).toMatch(/introspection is not allowed/i);
  });

  it('gives no field suggestions and no stack traces', async () => {
    const res = await t.gql('{ mee { id } }', undefined, { token });
    expect(res.body.errors?.[0].message).not.toMatch(/Did you mean/);
    expect(JSON.stringify(res.body)).not.toMatch(/stacktrace/);
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
