import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cancelInvoice } from '../../src/services/invoicing/cancel-invoice.service';
import { createInvoice } from '../../src/services/invoicing/create-invoice.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { Client } from 'pg';
import { built } from '../helpers/build';
import { testServerUrl } from '../helpers/database';
import { waitFor } from '../webhooks/fixtures';
import { waitForEvent } from '../helpers/wait';
import { Receiver } from '../outgoing-webhooks/receiver';
import { TEST_JWT_SECRET, TEST_STRIPE_KEY } from '../helpers/server';
import type { BillingHarness } from './helpers';
import { SERVICE, afterPeriod, billingHarness } from './helpers';

// Compiled once for the whole run by the e2e project's global setup (a compile error fails the run).
const cli = built('src/cli/billing.js');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The CLI opens the configured database from another process: a fresh PostgreSQL database. PGlite is in-process only.
const describeOnPostgres = testServerUrl() ? describe : describe.skip;

describeOnPostgres('operator CLI (compiled, against PostgreSQL and the local Stripe)', () => {
  let h: BillingHarness;
  let cwd: string;
  const env = (): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    // The server's data folder, as `npm run billing` beside `npm start`: its development encryption key seals the
    // signing secrets the CLI stores, and the server must open them to sign.
    DATA_DIR: h.t.config.dataDir,
    DATABASE_URL: h.t.database.url,
    STRIPE_SECRET_KEY: TEST_STRIPE_KEY,
    STRIPE_API_BASE: h.t.emulator.url,
    JWT_SECRET: TEST_JWT_SECRET,
  });
  const start = (args: string[]) => {
    const child = spawn(process.execPath, [cli, ...args], { env: env(), cwd });
    const done = new Promise<Ran>((resolve) => {
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += String(d)));
      child.stderr.on('data', (d) => (stderr += String(d)));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    return { child, done };
  };
  const run = (...args: string[]): Promise<Ran> => start(args).done;
  const json = (ran: Ran): Record<string, unknown> => JSON.parse(ran.stdout) as Record<string, unknown>;

  beforeAll(async () => {
    cwd = mkdtempSync(path.join(tmpdir(), 'billing-cli-'));
    h = await billingHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('answers --help on every command and 2 on usage errors', async () => {
    const commands = ['run', 'reconcile', 'config check', 'token', 'seed-demo', 'webhooks replay', 'webhooks recover'];
    const helps = await Promise.all(commands.map((command) => run(...command.split(' '), '--help')));
    expect(helps.map((ran) => [ran.code, ran.stdout])).toEqual(
      commands.map(() => [0, expect.stringMatching(/^Usage: npm run billing/)]),
    );
    expect((await run()).code).toBe(2);
    expect((await run('frobnicate')).code).toBe(2);
    const bad = await run('run', '--period', '2024-13', '--json');
    expect(bad.code).toBe(2);
    expect(json(bad)).toEqual({ ok: false, error: expect.stringMatching(/YYYY-MM/) });
    expect((await run('reconcile', '--json')).code).toBe(2);
  });

  it('runs billing with --json output, and exits 1 with the reasons when customers fail', async () => {
    await h.usage('2024-01', ['cli-a', 'cli-b']);
    const ok = await run('run', '--period', '2024-01', '--json');
    expect(ok.code).toBe(0);
    expect(json(ok)).toMatchObject({ ok: true, period: '2024-01', status: 'completed', total: 2, done: 2, failed: 0 });
    expect(await h.invoiceCount('2024-01', ['cli-a', 'cli-b'])).toBe(2);

    await h.usage('2024-02', ['cli-c']);
    await h.t.control.injectFault({ kind: '500', path: '^/v1/invoices$', method: 'POST', shouldRetry: false });
    const failed = await run('run', '--period', '2024-02', '--json', '--max-attempts', '1');
    await h.t.control.clearFaults();
    expect(failed.code).toBe(1);
    expect(json(failed)).toMatchObject({
      ok: false,
      total: 1,
      failed: 1,
      failures: [{ userId: 'cli-c', attempts: 1, error: expect.stringMatching(/Stripe/) }],
    });
    const human = await run('run', '--period', '2024-02');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Billing run 2024-02: completed, 1 done, 0 failed, 0 skipped of 1/);

    const reconciled = await run('reconcile', '--period', '2024-01', '--dry-run', '--json');
    expect(reconciled.code).toBe(0);
    expect(json(reconciled)).toMatchObject({ ok: true, dryRun: true, checked: 2, changes: [], errors: [] });
  });

  it('reconciles a period holding a cancelled DRAFT (its Stripe draft deleted) with exit 0', async () => {
    await h.usage('2024-04', ['cli-cancelled-draft']);
    await h.t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/finalize', method: 'POST' });
    const deps = {
      em: h.em.fork(),
      gateway: gatewayFromConfig(h.t.config, { maxNetworkRetries: 0 }),
      config: h.t.config,
      now: afterPeriod('2024-04'),
    };
    const stuck = await createInvoice(deps, SERVICE, { period: '2024-04', userId: 'cli-cancelled-draft' });
    await h.t.control.clearFaults();
    expect(stuck).toMatchObject({ kind: 'stripe_unavailable', invoice: { status: 'DRAFT' } });
    if (stuck.kind !== 'stripe_unavailable') {
      return;
    }
    expect(await cancelInvoice(deps, SERVICE, { invoiceId: stuck.invoice.id })).toMatchObject({ kind: 'voided' });

    for (const args of [['--dry-run'], []]) {
      const ran = await run('reconcile', '--period', '2024-04', '--json', ...args);
      expect(ran.code).toBe(0);
      expect(json(ran)).toMatchObject({ ok: true, checked: 1, changes: [], errors: [] });
    }
    const human = await run('reconcile', '--period', '2024-04', '--processing-timeout-minutes', '30');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/1 invoices checked, 0 changed, 0 orphans, 0 warnings, 0 errors/);
    expect((await run('reconcile', '--period', '2024-04', '--processing-timeout-minutes', 'soon')).code).toBe(2);
  });

  it('finishes a run whose process was killed mid-way, invoicing nobody twice', async () => {
    const users = Array.from({ length: 6 }, (_, i) => `cli-kill-${i}`);
    await h.usage('2024-03', users);
    await h.t.control.injectFault({ kind: 'latency', path: '/v1/', delayMs: 150 });
    const first = start(['run', '--period', '2024-03', '--json', '--concurrency', '1', '--lease-seconds', '1']);
    // Killed once two customers are invoiced: mid-run, with work left for the next run.
    await waitFor(
      async () => {
        const [row] = await h.em.fork().execute<Array<{ n: number }>>(
          `select count(*)::int as n from billing_run_items i join billing_runs r on r.id = i.run_id
           where r.period = '2024-03' and i.status = 'done'`,
        );
        return Number(row?.n ?? 0) >= 2;
      },
      60_000,
      'two customers invoiced by the first run',
    );
    first.child.kill('SIGKILL');
    expect((await first.done).code).toBeNull();
    await h.t.control.clearFaults();

    const second = await run('run', '--period', '2024-03', '--json');
    expect(second.code).toBe(0);
    expect(json(second)).toMatchObject({ status: 'completed', total: 6, done: 6, failed: 0 });
    const perCustomer = await h.em
      .fork()
      .execute<Array<{ n: number }>>(
        `select count(*)::int as n from invoices where period = '2024-03' group by customer_id`,
      );
    expect(perCustomer.map((r) => Number(r.n))).toEqual(users.map(() => 1));
    const counts = await h.stripeInvoiceCounts();
    const rows = await h.em.fork().execute<Array<{ id: string }>>(`select id from invoices where period = '2024-03'`);
    expect(rows.map((r) => counts.get(r.id))).toEqual(users.map(() => 1));
  }, 40_000);

  it('runs the other commands with --json', async () => {
    // Independent commands, run side by side.
    const [token, noSub, config, seeded, replay, recover] = await Promise.all([
      run('token', '--sub', 'ops', '--role', 'admin', '--json'),
      run('token', '--role', 'admin'),
      run('config', 'check', '--json'),
      run('seed-demo', '--period', '2024-06', '--json'),
      run('webhooks', 'replay', '--failed', '--json'),
      run('webhooks', 'recover', '--since', '2020-01-01T00:00:00Z', '--json'),
    ]);
    expect(token.code).toBe(0);
    expect(json(token)).toMatchObject({ ok: true, sub: 'ops', role: 'admin', token: expect.any(String) });
    expect(noSub.code).toBe(2);
    expect(config.code).toBe(0);
    expect(json(config)).toMatchObject({ ok: true, valid: true });
    expect(config.stdout).not.toContain(TEST_STRIPE_KEY);
    expect(seeded.code).toBe(0);
    // Three users × three summed metrics, plus one event per tool call (a COUNT metric): 900, 1,800 and 2,700.
    expect(json(seeded)).toMatchObject({ ok: true, period: '2024-06', accepted: 9 + 900 + 1800 + 2700, rejected: [] });
    expect(replay.code).toBe(0);
    expect(json(replay)).toEqual({ ok: true, count: 0, ids: [] });
    expect(recover.code).toBe(0);
    expect(json(recover)).toMatchObject({ ok: true, listed: expect.any(Number) });
    expect((json(recover).listed as number) > 0).toBe(true);
  });

  it('manages outgoing webhook endpoints: create, list, deliveries, replay (sent by the running server), rotate, disable', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const created = await run(
        'webhook-endpoints',
        'create',
        '--url',
        receiver.url,
        '--events',
        'invoice.created,invoice.finalized',
        '--rate',
        '50',
        '--json',
      );
      expect(created.code).toBe(0);
      const { endpoint, secret } = json(created) as { endpoint: { id: string; status: string }; secret: string };
      expect(endpoint.status).toBe('active');
      receiver.secrets = [secret];
      const bad = await run(
        'webhook-endpoints',
        'create',
        '--url',
        'ftp://example.com',
        '--events',
        'invoice.paid',
        '--json',
      );
      expect(bad.code).toBe(2);
      expect(json(bad)).toEqual({ ok: false, error: expect.stringMatching(/url/) });

      await h.usage('2024-07', ['cli-hooks']);
      const made = await createInvoice(
        { em: h.em.fork(), gateway: gatewayFromConfig(h.t.config), config: h.t.config, now: afterPeriod('2024-07') },
        SERVICE,
        { period: '2024-07', userId: 'cli-hooks' },
      );
      expect(made.kind).toBe('invoice');
      await waitForEvent(
        () => `created and finalized (requests: ${JSON.stringify(receiver.requests)})`,
        () => receiver.accepted.length >= 2,
        receiver.changes.subscribe,
      );

      const listed = await run('webhook-endpoints', 'list');
      expect(listed.stdout).toContain(endpoint.id);
      const deliveries = await run(
        'webhook-endpoints',
        'deliveries',
        '--id',
        endpoint.id,
        '--status',
        'delivered',
        '--json',
      );
      const [, first] = (json(deliveries) as { deliveries: Array<{ id: string; messageId: string }> }).deliveries;
      expect(first).toMatchObject({ type: 'invoice.created', status: 'delivered' });

      // The CLI's replay commits with a NOTIFY: the server's worker sends it at once.
      const replayed = await run('webhook-endpoints', 'replay', '--delivery', first.id, '--json');
      expect(replayed.code).toBe(0);
      await waitForEvent('the replay', () => receiver.accepted.length >= 3, receiver.changes.subscribe);
      expect(receiver.accepted[2]).toMatchObject({ id: first.messageId, type: 'invoice.created' });
      const range = await run('webhook-endpoints', 'replay', '--id', endpoint.id, '--since', '2020-01-01', '--json');
      expect(json(range)).toMatchObject({ ok: true, queued: 2 });
      await waitForEvent('the range', () => receiver.accepted.length >= 5, receiver.changes.subscribe);

      const rotated = await run(
        'webhook-endpoints',
        'rotate-secret',
        '--id',
        endpoint.id,
        '--overlap-hours',
        '0',
        '--json',
      );
      expect((json(rotated) as { secret: string }).secret).not.toBe(secret);
      const disabled = await run('webhook-endpoints', 'disable', '--id', endpoint.id, '--reason', 'cli test', '--json');
      expect(json(disabled)).toMatchObject({ ok: true, endpoint: { status: 'disabled', disabledReason: 'cli test' } });
      const missing = await run('webhook-endpoints', 'enable', '--id', '00000000-0000-4000-8000-000000000000');
      expect(missing.code).toBe(2);
    } finally {
      await receiver.stop();
    }
  });
});

describeOnPostgres('operator CLI with a DATABASE_URL naming a database that does not exist', () => {
  it('says so (exit 3) and creates nothing', async () => {
    const url = new URL(testServerUrl() as string);
    const name = `billing_missing_${Date.now()}`;
    url.pathname = `/${name}`;
    const ran = await new Promise<Ran>((resolve) => {
      const child = spawn(process.execPath, [cli, 'reconcile', '--period', '2024-01', '--json'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATABASE_URL: url.toString() },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += String(d)));
      child.stderr.on('data', (d) => (stderr += String(d)));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(ran.code).toBe(3);
    expect(JSON.parse(ran.stdout)).toMatchObject({ ok: false, error: expect.stringMatching(/does not exist/) });
    const admin = new Client({ connectionString: testServerUrl() });
    await admin.connect();
    try {
      const found = await admin.query('select 1 from pg_database where datname = $1', [name]);
      expect(found.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  }, 60_000);
});

describe('operator CLI on the embedded defaults (no DATABASE_URL, no Stripe key)', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'billing-cli-embedded-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const runNode = (script: string, args: string[]): Promise<Ran> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [built(script), ...args], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_ENV: 'development',
          DATA_DIR: dataDir,
          // A port of its own, so a developer's `npm start` on 12111 does not answer instead.
          STRIPE_EMULATOR_PORT: '12397',
        },
        cwd: dataDir,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += String(d)));
      child.stderr.on('data', (d) => (stderr += String(d)));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  // Three processes each open the embedded PGlite (WASM start + migrations check): under a loaded 2-core machine this
  // took close to 90 s, so the budget is generous; nothing here waits on time.
  it('reconciles and recovers webhooks with the local Stripe it starts itself (as the server is stopped)', async () => {
    expect(existsSync(built('src/cli/db.js'))).toBe(true);
    const migrated = await runNode('src/cli/db.js', ['migrate']);
    expect(migrated.code).toBe(0);
    const reconciled = await runNode('src/cli/billing.js', ['reconcile', '--period', '2024-01', '--json']);
    expect(reconciled.stderr).not.toMatch(/unavailable/i);
    expect(reconciled.code).toBe(0);
    expect(JSON.parse(reconciled.stdout)).toMatchObject({ ok: true });
    // This one always calls Stripe (it lists events): without a local Stripe it failed with Stripe unavailable.
    const recovered = await runNode('src/cli/billing.js', ['webhooks', 'recover', '--since', '2024-01-01', '--json']);
    expect(recovered.stderr).not.toMatch(/unavailable/i);
    expect(recovered.code).toBe(0);
    expect(JSON.parse(recovered.stdout)).toMatchObject({ ok: true, listed: 0 });
  }, 240_000);
});
