import { Client } from 'pg';
import { createServer } from '../src/server';
import { loadConfig } from '../src/config/config';
import type { TestDatabase } from './helpers/database';
import { createEmptyDatabase, testServerUrl } from './helpers/database';
import type { TestServer } from './helpers/server';
import { TEST_JWT_SECRET, startTestServer } from './helpers/server';
import { waitForValue } from './helpers/wait';

/**
 * Takes the server's database away until the returned function brings it back. On PostgreSQL the database refuses
 * new connections and its open ones are terminated, as in an outage; PGlite runs in this process, so there its
 * connection pool is closed (queries fail with "Unable to acquire a connection") and reopened.
 */
async function takeDatabaseDown(database: TestDatabase): Promise<() => Promise<void>> {
  if (!database.url) {
    await database.db.orm.close(true);
    return async () => {
      await database.db.orm.connect();
    };
  }
  const name = new URL(database.url).pathname.slice(1);
  const admin = async (sql: string, params: unknown[] = []): Promise<void> => {
    const client = new Client({ connectionString: testServerUrl() });
    await client.connect();
    try {
      await client.query(sql, params);
    } finally {
      await client.end();
    }
  };
  await admin(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS false`);
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [name]);
  return () => admin(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS true`);
}

describe('health and readiness', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it('answers /healthz without a token', async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('is ready when the database is reachable and migrated', async () => {
    const res = await fetch(`${t.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      checks: { database: 'ok', migrations: 'ok', statusFeed: 'ok' },
    });
  });

  it('gives every response a request id, honouring a sane incoming one', async () => {
    const own = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'req-abc.123' } });
    expect(own.headers.get('x-request-id')).toBe('req-abc.123');
    const generated = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes and malformed JSON with a 4xx and a reason, no stack', async () => {
    const missing = await fetch(`${t.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      success: false,
      error: { code: 'not_found', message: 'No route for GET /nope' },
    });

    const token = await t.token('u1');
    const malformed = await fetch(t.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"query": ',
    });
    expect(malformed.status).toBe(400);
    const text = await malformed.text();
    expect(text).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });

  it('answers 503 with the reason on /readyz and /api/v1/webhooks/health while the database is down', async () => {
    // A server of its own: the outage must not reach the other tests' server.
    const down = await startTestServer();
    const get = async (path: string) => {
      const res = await fetch(`${down.url}${path}`);
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown> & { checks?: Record<string, string> },
      };
    };
    try {
      expect((await get('/readyz')).status).toBe(200);
      expect((await get('/api/v1/webhooks/health')).status).toBe(200);

      const restore = await takeDatabaseDown(down.database);
      try {
        // The LISTEN connection learns of its end a moment after its backend is terminated (its socket closes then).
        const feedDown = down.database.url ? 'reconnecting' : 'ok';
        await waitForValue(
          'the status feed to notice the outage',
          async () => (await get('/readyz')).body.checks?.statusFeed === feedDown,
          (wake) => down.server.onStatusFeedStateChange(wake),
        );
        expect(await get('/readyz')).toEqual({
          status: 503,
          body: {
            status: 'not ready',
            // PostgreSQL ended the status feed's LISTEN connection too; the embedded database has no connection to lose.
            checks: { database: 'unreachable', statusFeed: down.database.url ? 'reconnecting' : 'ok' },
          },
        });
        const health = await get('/api/v1/webhooks/health');
        expect(health).toEqual({
          status: 503,
          body: {
            status: 'unhealthy',
            problems: [
              'the database is unreachable: events cannot be stored (Stripe retries them) and figures are unknown',
            ],
            secretConfigured: true,
            secretCount: 1,
            lastEventSecretIndex: null,
            secretWellFormed: true,
            stripeMode: 'emulator',
            database: 'unreachable',
            lastEventReceivedAt: null,
            pendingCount: null,
            oldestPendingAgeSeconds: null,
            failedCount: null,
          },
        });
      } finally {
        await restore();
      }
      // Back: both say so again without a restart, once the status feed has reconnected (after its backoff).
      await waitForValue(
        'the server to be ready again',
        async () => (await get('/readyz')).status === 200,
        (wake) => down.server.onStatusFeedStateChange(wake),
      );
      expect(await get('/readyz')).toEqual({
        status: 200,
        body: { status: 'ready', checks: { database: 'ok', migrations: 'ok', statusFeed: 'ok' } },
      });
      expect(await get('/api/v1/webhooks/health')).toMatchObject({
        status: 200,
        body: { status: 'ok', database: 'ok', pendingCount: 0, failedCount: 0 },
      });
    } finally {
      await down.close();
    }
  });

  it('is not ready while migrations are pending', async () => {
    const empty = await createEmptyDatabase();
    const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_JWT_SECRET, DATA_DIR: t.config.dataDir });
    const server = await createServer({ config, db: empty.db });
    try {
      const url = await server.listen(0, '127.0.0.1');
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; checks: Record<string, string> };
      expect(body.status).toBe('not ready');
      expect(body.checks.migrations).toMatch(/^pending: Migration\d+/);
    } finally {
      await server.close();
      await empty.drop();
    }
  });
});
