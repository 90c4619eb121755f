import { createServer } from '../src/server';
import { loadConfig } from '../src/config/config';
import { createEmptyDatabase } from './helpers/database';
import type { TestServer } from './helpers/server';
import { TEST_JWT_SECRET, startTestServer } from './helpers/server';

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
    expect(await res.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
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
    expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'No route for GET /nope' } });

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
