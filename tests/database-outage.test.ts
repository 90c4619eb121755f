import { TEST_WEBHOOK_SECRET, startProxiedServer } from './helpers/server';
import type { ProxiedServer } from './helpers/server';
import { testServerUrl } from './helpers/database';
import { postWebhook, stripeEvent } from './webhooks/fixtures';

/**
 * The database goes away under a running server (a TCP proxy between them is cut; the shared PostgreSQL server keeps
 * serving every other test): requests are answered "unavailable, send it again" (REST 503 with Retry-After, GraphQL
 * SERVICE_UNAVAILABLE), never a 500 or an internal error, nothing is half-written, and the same requests succeed once
 * it is back. PostgreSQL only: embedded PGlite has no connection to lose.
 */
(testServerUrl() ? describe : describe.skip)('a database outage under a running server (PostgreSQL only)', () => {
  let t: ProxiedServer;
  let url: string;
  let token: string;

  beforeAll(async () => {
    t = await startProxiedServer({ STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
    ({ url, serviceToken: token } = t);
  });
  afterAll(() => t.close());

  const batch = Array.from({ length: 5 }, (_, i) => ({
    userId: 'outage-user',
    metric: 'llm_input_tokens',
    quantity: String(i + 1),
    occurredAt: '2024-01-15T10:00:00Z',
    idempotencyKey: `outage-${i}`,
  }));

  async function postUsage(): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
    const res = await fetch(`${url}/api/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(batch),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as never };
  }

  async function queryInvoices(): Promise<{ status: number; body: { data?: unknown; errors?: unknown[] } }> {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ usageSummary(userId: "outage-user", period: "2024-01") { userId } }' }),
    });
    return { status: res.status, body: (await res.json()) as never };
  }

  async function stored(): Promise<number> {
    const [row] = await t.database.db.orm.em
      .fork()
      .execute<Array<{ n: number }>>(
        `select count(*)::int as n from usage_records where idempotency_key like 'outage-%'`,
      );
    return row.n;
  }

  it('answers 503 / SERVICE_UNAVAILABLE while it is away, stores nothing half, and serves the same requests after', async () => {
    t.proxy.cut();

    const usage = await postUsage();
    expect(usage.status).toBe(503);
    expect(usage.retryAfter).toBe('5');
    expect(usage.body).toEqual({
      success: false,
      error: {
        code: 'service_unavailable',
        message: 'The service is temporarily unavailable; send the same request again shortly',
      },
    });

    const graphql = await queryInvoices();
    expect(graphql.body.errors).toEqual([
      expect.objectContaining({
        message: 'The service is temporarily unavailable; send the same request again shortly',
        extensions: { code: 'SERVICE_UNAVAILABLE' },
      }),
    ]);
    expect(JSON.stringify(graphql.body)).not.toMatch(/ECONN|Connection terminated|stack/);

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await stored()).toBe(0);

    t.proxy.restore();
    const again = await postUsage();
    expect(again).toMatchObject({ status: 200, body: { accepted: 5, duplicates: 0 } });
    expect(await stored()).toBe(5);
    expect((await queryInvoices()).body.errors).toBeUndefined();
  });

  it('answers a Stripe webhook 500 without detail while it is away (Stripe delivers it again), then stores it once', async () => {
    // One event first, so the statement pool holds a connection that the cut then breaks while idle.
    expect((await postWebhook(url, stripeEvent('invoice.updated', { id: 'in_outage_before' }))).status).toBe(200);
    const event = stripeEvent('invoice.updated', { id: 'in_outage' });
    t.proxy.cut();

    const during = await postWebhook(url, event);
    expect(during.status).toBe(500);
    expect(during.json).toMatchObject({ success: false, error: { code: 'internal_error' } });
    expect(JSON.stringify(during.json)).not.toMatch(/ECONN|Connection terminated|stack|at /);

    t.proxy.restore();
    expect(await postWebhook(url, event)).toEqual({ status: 200, json: { received: true, duplicate: false } });
    expect(await postWebhook(url, event)).toEqual({ status: 200, json: { received: true, duplicate: true } });
  });
});
