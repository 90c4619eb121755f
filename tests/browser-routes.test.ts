import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { devTokensAvailable } from '../src/http/dev-token.route';
import { explorerEnabled } from '../src/server/browser-app';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** A stand-in for the Vite build: the server only serves files, whatever made them. */
function fakeBuild(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<title>dashboard page</title>');
  writeFileSync(path.join(dir, 'explorer.html'), '<title>explorer page</title>');
  writeFileSync(path.join(dir, 'assets', 'app-1234.js'), 'console.log(1)');
  return dir;
}

describe('what browsers get: the dashboard at /, the explorer at /graphql', () => {
  let t: TestServer;
  let dir: string;
  const get = (url: string, accept?: string) => fetch(`${t.url}${url}`, { headers: accept ? { accept } : {} });

  beforeAll(async () => {
    dir = fakeBuild();
    t = await startTestServer({ DASHBOARD_DIR: dir });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the dashboard page for / and any other page the app routes, revalidated', async () => {
    for (const url of ['/', '/invoices', '/invoices/0b6f3c1e?x=1', '/sign-in']) {
      const res = await get(url, BROWSER);
      expect([url, res.status, await res.text()]).toEqual([url, 200, '<title>dashboard page</title>']);
      expect(res.headers.get('cache-control')).toBe('no-cache');
    }
  });

  it('serves hashed assets for good, and a missing file is a 404', async () => {
    const asset = await get('/assets/app-1234.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await get('/assets/missing.js', BROWSER)).status).toBe(404);
    expect((await get('/favicon.ico', BROWSER)).status).toBe(404);
  });

  it('keeps the API’s JSON 404 for unknown API paths and for clients that ask for JSON', async () => {
    for (const [url, accept] of [
      ['/api/v1/nope', BROWSER],
      ['/healthz/nope', BROWSER],
      ['/dev/token', BROWSER],
      ['/invoices', 'application/json'],
      ['/', '*/*'],
    ]) {
      const res = await get(url, accept);
      expect([url, res.status, res.headers.get('content-type')]).toEqual([url, 404, 'application/json; charset=utf-8']);
      expect(await res.json()).toMatchObject({ success: false, error: { code: 'not_found' } });
    }
  });

  it('answers a browser at /graphql with the explorer, and never serves it by its file name', async () => {
    const page = await get('/graphql', BROWSER);
    expect([page.status, await page.text()]).toEqual([200, '<title>explorer page</title>']);
    expect((await get('/explorer.html', BROWSER)).status).toBe(404);
    // Apollo's landing page (Sandbox from a CDN) is off: a GET without a query from a non-browser is a bad request.
    const api = await get('/graphql', '*/*');
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('turns the explorer on outside production, off in production unless GRAPHQL_EXPLORER=true', () => {
    const browser = { dashboardDir: dir };
    expect(explorerEnabled({ nodeEnv: 'development', browser })).toBe(true);
    expect(explorerEnabled({ nodeEnv: 'test', browser })).toBe(true);
    expect(explorerEnabled({ nodeEnv: 'production', browser })).toBe(false);
    expect(explorerEnabled({ nodeEnv: 'production', browser: { ...browser, explorer: true } })).toBe(true);
    expect(explorerEnabled({ nodeEnv: 'development', browser: { ...browser, explorer: false } })).toBe(false);
  });
});

describe('the explorer switched off', () => {
  it('leaves /graphql to the API for browsers too', async () => {
    const dir = fakeBuild();
    const t = await startTestServer({ DASHBOARD_DIR: dir, GRAPHQL_EXPLORER: 'false' });
    try {
      const res = await fetch(`${t.url}/graphql`, { headers: { accept: BROWSER } });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.text()).not.toContain('explorer page');
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('development tokens for "sign in as"', () => {
  it('exist only in development with the development secret', () => {
    const auth = { jwtSecret: undefined, jwksUrl: undefined };
    expect(devTokensAvailable({ nodeEnv: 'development', auth })).toBe(true);
    expect(devTokensAvailable({ nodeEnv: 'test', auth })).toBe(false);
    expect(devTokensAvailable({ nodeEnv: 'production', auth })).toBe(false);
    expect(devTokensAvailable({ nodeEnv: 'development', auth: { ...auth, jwtSecret: 'x'.repeat(32) } })).toBe(false);
    expect(devTokensAvailable({ nodeEnv: 'development', auth: { ...auth, jwksUrl: 'https://id.example/jwks' } })).toBe(
      false,
    );
  });

  it('mint a user or admin token the server accepts, in development', async () => {
    // No JWT_SECRET: the development secret under DATA_DIR, as `npm start` and `npm run token` use it.
    const t = await startTestServer({ NODE_ENV: 'development', JWT_SECRET: '' });
    try {
      const roles = await fetch(`${t.url}/dev/token`);
      expect(await roles.json()).toEqual({ roles: ['user', 'admin'] });
      const mint = (body: unknown) =>
        fetch(`${t.url}/dev/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const minted = await mint({ sub: 'dev-alice', role: 'admin' });
      expect(minted.headers.get('cache-control')).toBe('no-store');
      const { token, ...rest } = (await minted.json()) as { token: string };
      expect(rest).toEqual({ sub: 'dev-alice', role: 'admin', expiresIn: '12h' });
      const res = await t.gql('{ invoices(userId: "someone") { totalCount } }', undefined, { token });
      expect(res.body).toEqual({ data: { invoices: { totalCount: 0 } } });

      expect((await mint({ sub: 'dev-alice', role: 'service' })).status).toBe(400);
      expect((await mint({ sub: 'no spaces', role: 'user' })).status).toBe(400);
    } finally {
      await t.close();
    }
  });
});
