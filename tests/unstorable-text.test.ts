import { Role } from '../src/entities/enums';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer, wsExecute } from './helpers/server';

/**
 * Text PostgreSQL cannot store (NUL) or UTF-8 cannot encode (an unpaired surrogate) is refused at the edge with a
 * 400 and the reason, on every route, before any work: it used to fail half-way with a 500 (a cancel had already
 * voided the invoice in Stripe when the database refused the reason).
 */
describe('text that cannot be stored', () => {
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    admin = await t.token('ops', Role.ADMIN);
  });
  afterAll(() => t.close());

  const NUL = 'a\u0000b';
  const LONE = 'a\ud800b';

  test.each([
    ['a NUL', NUL],
    ['an unpaired surrogate', LONE],
  ])('GraphQL variables with %s → 400 BAD_USER_INPUT, nothing stored', async (_label, text) => {
    const res = await t.gql(
      'mutation R($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }',
      {
        e: [
          {
            userId: text,
            metric: 'llm_input_tokens',
            quantity: '1',
            occurredAt: '2024-01-15T10:00:00Z',
            idempotencyKey: 'k',
          },
        ],
      },
      { token: admin },
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/cannot be stored/);
    const rows = await t.database.db.orm.em.fork().execute(`select 1 from usage_records where idempotency_key = 'k'`);
    expect(rows).toHaveLength(0);
  });

  it('a GraphQL string literal with a NUL escape → validation error, not a 500', async () => {
    const res = await t.gql('{ invoices(userId: "a\\u0000b") { totalCount } }', undefined, { token: admin });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/cannot be stored/),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });

  it('over graphql-ws too: variables and literals', async () => {
    const subscription = 'subscription S($id: ID) { paymentStatusChanged(invoiceId: $id) { status } }';
    await expect(wsExecute(t.wsClient(admin), subscription, { id: NUL })).rejects.toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/cannot be stored/),
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
      }),
    ]);
    await expect(
      wsExecute(t.wsClient(admin), 'subscription { paymentStatusChanged(invoiceId: "a\\u0000b") { status } }'),
    ).rejects.toEqual([expect.objectContaining({ message: expect.stringMatching(/cannot be stored/) })]);
  });

  it('a GET query with such a variable → 400', async () => {
    const url = new URL(t.graphqlUrl);
    url.searchParams.set('query', 'query Q($u: String) { invoices(userId: $u) { totalCount } }');
    url.searchParams.set('variables', JSON.stringify({ u: NUL }));
    const res = await fetch(url, { headers: { authorization: `Bearer ${admin}`, 'apollo-require-preflight': '1' } });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/cannot be stored/);
  });

  it('REST: usage body, query parameters and a cancel reason → 400 with the reason; the invoice stays OPEN', async () => {
    const usage = await fetch(`${t.url}/api/v1/usage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          userId: 'u1',
          metric: 'llm_input_tokens',
          quantity: '1',
          occurredAt: '2024-01-15T10:00:00Z',
          idempotencyKey: NUL,
        },
      ]),
    });
    expect(usage.status).toBe(400);
    expect(await usage.text()).toMatch(/cannot be stored/);

    const list = await fetch(`${t.url}/api/v1/billing/invoices?user_id=a%00b`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(list.status).toBe(400);

    const op = await operator(t);
    await op.record([
      { userId: 'nul-1', metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' },
    ]);
    const created = await fetch(`${t.url}/api/v1/billing/invoice/2024-01/create?user_id=nul-1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    const invoice = (await created.json()) as { invoice_id: string; status: string };
    expect(invoice.status).toBe('sent');
    const cancel = await fetch(`${t.url}/api/v1/billing/invoice/${invoice.invoice_id}/cancel?reason=a%00b`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(cancel.status).toBe(400);
    const cancelJson = await fetch(`${t.url}/api/v1/billing/invoice/${invoice.invoice_id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: LONE }),
    });
    expect(cancelJson.status).toBe(400);
    expect(await cancelJson.json()).toMatchObject({
      success: false,
      error: { message: expect.stringMatching(/cannot be stored/) },
    });
    const after = await fetch(`${t.url}/api/v1/billing/invoice/${invoice.invoice_id}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(((await after.json()) as { status: string }).status).toBe('sent');
  });

  it('REST: a corrupt gzip body on a billing route → 400, not a 500', async () => {
    const res = await fetch(`${t.url}/api/v1/billing/invoice/00000000-0000-0000-0000-000000000000/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: 'this is not gzip',
    });
    expect(res.status).toBe(400);
  });
});
