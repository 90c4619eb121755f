import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EndpointSecret } from '../src/entities';
import { openDatabase, type Database } from '../src/entities/orm';
import { openSecrets } from '../src/services/outgoing-webhooks/endpoint-secrets';
import { secretBoxFromConfig } from '../src/services/shared/secrets-at-rest';
import { BUILD_DIR, ROOT, built } from './helpers/build';

/**
 * The product as a new user starts it: the compiled `src/main.ts` in a bare environment (no DATABASE_URL, no Stripe
 * key, no JWT setting), in an empty working directory.
 */
// Compiled once for the whole run by the e2e project's global setup (tests/setup/global-setup.ts).
const main = built('src/main.js');
const tokenCli = built('src/cli/token.js');

function bareEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...extra };
}

function run(env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main], { env, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The server started on embedded defaults in `dataDir`, once it listens; `output` is all it printed so far. */
async function startMain(
  dataDir: string,
  cwd: string,
): Promise<{ child: ChildProcessWithoutNullStreams; url: string; output: () => string }> {
  const child = spawn(process.execPath, [main], {
    env: bareEnv(dataDir, { PORT: '0', HOST: '127.0.0.1', STRIPE_EMULATOR_PORT: '0' }),
    cwd,
  });
  let output = '';
  child.stderr.on('data', (d) => (output += String(d)));
  // Waits for the "listening" line or the process's exit, not for a time: a server that hangs is the test's timeout.
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      output += String(d);
      const match = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(output);
      if (match) {
        resolve(match[1]);
      }
    });
    child.on('exit', () => reject(new Error(`server exited before it listened:\n${output}`)));
  });
  return { child, url, output: () => output };
}

/** SIGTERM, and its exit code once it has stopped. */
function stop(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('starting the server', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'billing-start-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails fast naming a bad STRIPE_SECRET_KEY', async () => {
    const result = await run(
      bareEnv(path.join(dir, 'a'), { STRIPE_SECRET_KEY: 'pk_test_123', INVOICE_DUE_DAYS: 'x' }),
      dir,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/STRIPE_SECRET_KEY: is a publishable key/);
    expect(result.stderr).toMatch(/INVOICE_DUE_DAYS/);
    expect(result.stdout).not.toMatch(/listening/);
  });

  it('refuses to start in production without DATABASE_URL and says what to set', async () => {
    const result = await run(bareEnv(path.join(dir, 'b'), { NODE_ENV: 'production' }), dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/DATABASE_URL: is required when NODE_ENV=production/);
  });

  describe('on embedded defaults', () => {
    let child: ChildProcessWithoutNullStreams;
    let url: string;
    let output: () => string;
    const dataDir = (): string => path.join(dir, 'embedded');

    beforeAll(async () => {
      ({ child, url, output } = await startMain(dataDir(), dir));
    }, 90_000);

    /**
     * `npm run token` in a child process, without blocking this process: a blocked event loop misses the server
     * closing an idle keep-alive socket, and the next fetch then fails on it ("other side closed").
     */
    const mintToken = async (sub: string): Promise<string> =>
      (
        await promisify(execFile)(process.execPath, [tokenCli, '--sub', sub, '--role', 'admin'], {
          env: bareEnv(dataDir()),
          cwd: dir,
          encoding: 'utf8',
        })
      ).stdout.trim();

    afterAll(() => {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
      }
    });

    it('serves /healthz and /readyz', async () => {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
    });

    it('creates the development secrets key only once a webhook endpoint needs it', async () => {
      const keyFile = path.join(dataDir(), 'dev-secrets-key');
      expect(existsSync(keyFile)).toBe(false);
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await mintToken('ops')}` },
        body: JSON.stringify({
          query: `mutation { createWebhookEndpoint(input: { url: "https://hooks.example.com/billing",
            eventTypes: ["billing_run.completed"] }) { endpoint { id } } }`,
        }),
      });
      expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    });

    it('prints how to mint a token, and serves `me` with one minted by `npm run token`', async () => {
      expect(output()).toMatch(/npm run token -- --sub 123 --role admin/);
      const token = await mintToken('123');
      const query = (headers: Record<string, string>): Promise<Response> =>
        fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ query: '{ me { id userId } }' }),
        });
      const ok = await query({ authorization: `Bearer ${token}` });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { data: { me: { userId: string } } }).data.me.userId).toBe('123');
      const anonymous = await query({});
      expect(anonymous.status).toBe(401);
    });

    it('bills on its defaults: seeded prices, the local Stripe, an invoice paid with a test card', async () => {
      const token = await mintToken('ops');
      const gql = async (query: string): Promise<Record<string, Record<string, unknown>>> => {
        const res = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query }),
        });
        const body = (await res.json()) as { data: Record<string, Record<string, unknown>>; errors?: unknown };
        expect(body.errors).toBeUndefined();
        return body.data;
      };
      const recorded = await gql(`mutation { recordUsage(events: [{ userId: "123", metric: "llm_input_tokens",
        quantity: "1000000", occurredAt: "2024-01-10T00:00:00Z", idempotencyKey: "demo-1" }]) { accepted } }`);
      expect(recorded.recordUsage).toEqual({ accepted: 1 });
      const created = await gql(`mutation { createInvoice(period: "2024-01", userId: "123") {
        ... on Invoice { id status paymentUrl amount { formatted } } } }`);
      expect(created.createInvoice).toMatchObject({ status: 'OPEN', amount: { formatted: '$2.00' } });
      expect(created.createInvoice.paymentUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      const paid = await gql(`mutation { payInvoice(invoiceId: "${String(created.createInvoice.id)}",
        paymentMethodId: "pm_card_visa") { ... on Invoice { status } } }`);
      expect(paid.payInvoice).toEqual({ status: 'PAID' });
    });

    it('refuses a second process on the same embedded database instead of corrupting it', () => {
      let stderr = '';
      try {
        execFileSync(process.execPath, [built('src/cli/db.js'), 'status'], {
          env: bareEnv(dataDir()),
          cwd: dir,
          encoding: 'utf8',
          stdio: 'pipe',
        });
      } catch (error) {
        stderr = String((error as { stderr?: string }).stderr);
      }
      expect(stderr).toMatch(/is in use by process \d+ .*set DATABASE_URL/);
    });

    it('logs structured JSON and never prints the development secret', () => {
      const secret = execFileSync('cat', [path.join(dataDir(), 'dev-jwt-secret')], { encoding: 'utf8' }).trim();
      expect(secret.length).toBeGreaterThan(30);
      expect(output()).not.toContain(secret);
      expect(output()).toMatch(/"msg":"database ready"/);
    });

    it('shuts down gracefully on SIGTERM', async () => {
      expect(await stop(child)).toBe(0);
      expect(output()).toMatch(/"msg":"stopped"/);
    }, 30_000);

    it('seals at start a signing secret an earlier version stored in plain text', async () => {
      const pgliteDataDir = path.join(dataDir(), 'pglite');
      const storedEndpoint = async (db: Database): Promise<{ id: string; secrets: EndpointSecret[] }> => {
        const [row] = await db.orm.em
          .fork()
          .execute<Array<{ id: string; secrets: string }>>(
            'select id, secrets::text as secrets from webhook_endpoints',
          );
        return { id: row.id, secrets: JSON.parse(row.secrets) as EndpointSecret[] };
      };
      // The endpoint created above, its secret as a version before encryption wrote it (random: no secret lives in
      // the repository); the server is stopped, so this process may open its embedded database.
      const plain = `whsec_${randomBytes(24).toString('base64')}`;
      let db = await openDatabase({ pgliteDataDir });
      await db.orm.em
        .fork()
        .execute('update webhook_endpoints set secrets = ?::json', [
          JSON.stringify([{ secret: plain, createdAt: new Date().toISOString(), expiresAt: null }]),
        ]);
      await db.close();

      const again = await startMain(dataDir(), dir);
      expect(await stop(again.child)).toBe(0);
      expect(again.output()).toMatch(/"endpoints":1,"secrets":1,"kid":"dev".*sealed the plain-text signing secrets/);
      expect(again.output()).not.toContain(plain);
      db = await openDatabase({ pgliteDataDir });
      try {
        const endpoint = await storedEndpoint(db);
        expect(endpoint.secrets.map((s) => s.secret)).toEqual([expect.stringMatching(/^v1:dev:/)]);
        const box = secretBoxFromConfig({ dataDir: dataDir(), nodeEnv: 'development' });
        expect(openSecrets(box, endpoint.id, endpoint.secrets)).toEqual([plain]);
      } finally {
        await db.close();
      }
    }, 90_000);
  });

  it('does not recompile an unchanged tree: the build script checks a hash and leaves the build as it was', () => {
    const buildScript = path.join(ROOT, 'scripts/build-server.mjs');
    const before = statSync(main).mtimeMs;
    // The e2e setup compiled BUILD_DIR from these sources moments ago.
    const checked = spawnSync(process.execPath, [buildScript, '--out', BUILD_DIR], { cwd: ROOT, encoding: 'utf8' });
    expect(checked.status).toBe(0);
    expect(checked.stderr).toMatch(/^server build up to date \(checked in [\d.]+ s\)$/m);
    expect(checked.stderr).not.toMatch(/compiling/);
    expect(statSync(main).mtimeMs).toBe(before);
  });
});
