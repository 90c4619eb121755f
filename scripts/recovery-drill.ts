/**
 * The disaster-recovery drill of docs/operations.md, run for real against PostgreSQL and the local Stripe: back up,
 * lose the last hour, restore into a new database, recover the missed webhooks from Stripe, reconcile, and check that
 * every invoice ends as it was before the loss. CI runs it (`npm run drill:recovery`); it exits 1 on any difference.
 *
 * The operator's steps are the runbook's own commands: `pg_dump -Fc`, `pg_restore`, and the CLI
 * (`node dist/src/cli/billing.js webhooks recover --since …`, `… reconcile --period …`) in child processes.
 *
 * Uses fresh databases on DRILL_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after (on
 * failure, SIGTERM and Ctrl-C too: withScratchDatabase), like its temporary folder. Takes no options but --help.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator } from '../emulator/server';
import type { RunningEmulator } from '../emulator/server';
import { loadConfig } from '../src/config/config';
import type { AppConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import type { Database } from '../src/entities/orm';
import { createServer } from '../src/server';
import type { BillingServer } from '../src/server';
import { mintToken } from '../src/services/customers/auth.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { benchCommandLine, runBench, undoOnSignal, withScratchDatabase } from './lib/bench-util';

// First: --help or a wrong option answers before anything is made (a temporary folder, databases, a local Stripe).
benchCommandLine(
  'npm run drill:recovery',
  'The disaster-recovery drill of docs/operations.md, on PostgreSQL (DRILL_DATABASE_URL) and the local Stripe: ' +
    'issue invoices, back up (pg_dump), lose the last hour, restore (pg_restore) into a new database, recover the ' +
    'missed webhooks from Stripe and reconcile with the CLI; exits 1 unless every invoice ends as before the loss.',
  {},
);

const adminUrl = process.env.DRILL_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
const names = { source: `drill_${suffix}_source`, restored: `drill_${suffix}_restored` };
const secrets = {
  jwt: randomBytes(32).toString('hex'),
  webhook: `whsec_${randomBytes(16).toString('hex')}`,
  stripeKey: 'sk_test_recovery_drill',
};
const PERIOD = '2024-01';
const work = mkdtempSync(path.join(tmpdir(), 'recovery-drill-'));
const removeWork = (): void => rmSync(work, { recursive: true, force: true });
// A signal ends the drill without its `finally`: the folder (the dump, the servers' data) goes with the databases.
undoOnSignal(removeWork);
const cli = path.resolve(__dirname, '../src/cli/billing.js');
const started = Date.now();

const say = (line: string): void => {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
};

function configFor(databaseUrl: string, emulator: RunningEmulator): AppConfig {
  return loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: secrets.jwt,
    STRIPE_SECRET_KEY: secrets.stripeKey,
    STRIPE_API_BASE: emulator.url,
    STRIPE_WEBHOOK_SECRET: secrets.webhook,
    DATA_DIR: path.join(work, new URL(databaseUrl).pathname.slice(1)),
    BILLING_SCHEDULER_ENABLED: 'false',
  });
}

interface Running {
  server: BillingServer;
  db: Database;
  url: string;
  config: AppConfig;
}

/** Runs `fn` with the server on the database at `databaseUrl` (migrated), the local Stripe's webhooks sent to it. */
async function withServer<T>(
  databaseUrl: string,
  emulator: RunningEmulator,
  fn: (running: Running) => Promise<T>,
): Promise<T> {
  const config = configFor(databaseUrl, emulator);
  const db = await openDatabase({ databaseUrl: config.databaseUrl });
  try {
    await migrate(db.orm);
    const server = await createServer({ config, db });
    const url = await server.listen(0, '127.0.0.1');
    try {
      emulator.setWebhookTarget(`${url}/api/v1/webhooks/stripe`, secrets.webhook);
      return await fn({ server, db, url, config });
    } finally {
      await server.close();
    }
  } finally {
    await db.close();
  }
}

async function gql<T>(running: Running, token: string, query: string, variables: object = {}): Promise<T> {
  const res = await fetch(`${running.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (body.errors || !body.data) {
    throw new Error(`GraphQL failed: ${JSON.stringify(body.errors)}`);
  }
  return body.data;
}

/** Invoices as the drill compares them: by number, with status and amount paid. */
async function invoices(db: Database): Promise<Record<string, string>> {
  const rows = await db.orm.em
    .fork()
    .getConnection()
    .execute<Array<{ number: string; status: string; paid: string }>>(
      'select number, status, amount_paid_minor as paid from invoices order by number',
    );
  return Object.fromEntries(rows.map((row) => [row.number, `${row.status} paid=${row.paid}`]));
}

/** Waits (a script, not a test: it may poll) until every stored Stripe event has been applied. */
async function drained(db: Database, label: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [row] = await db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ waiting: string }>>(
        "select count(*) as waiting from webhook_events where status in ('pending', 'processing')",
      );
    if (Number(row.waiting) === 0) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`${label}: ${row.waiting} webhook events still unapplied after 60 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Asynchronously: the local Stripe the CLI calls runs in this process. */
async function runCli(running: Running, ...args: string[]): Promise<string> {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATABASE_URL: running.config.databaseUrl,
    JWT_SECRET: secrets.jwt,
    STRIPE_SECRET_KEY: secrets.stripeKey,
    STRIPE_API_BASE: running.config.stripe.apiBase,
    STRIPE_WEBHOOK_SECRET: secrets.webhook,
    DATA_DIR: running.config.dataDir,
  };
  const { stdout } = await promisify(execFile)(process.execPath, [cli, ...args, '--json'], { env, encoding: 'utf8' });
  return stdout;
}

/** What the backup holds and what it misses: the dump, the time it was taken, every invoice as it was before the loss. */
interface Backup {
  dump: string;
  backupAt: Date;
  before: Record<string, string>;
}

/** Issues four invoices on the database at `sourceUrl`, backs it up, then lives the hour the backup will miss. */
function beforeTheLoss(sourceUrl: string, emulator: RunningEmulator): Promise<Backup> {
  return withServer(sourceUrl, emulator, async (live) => {
    await seedDefaultCatalogue(live.db.orm.em.fork());
    const service = await mintToken(secrets.jwt, { sub: 'platform', role: Role.SERVICE, expiresIn: '1h' });
    const users = ['drill-paid', 'drill-declined', 'drill-voided', 'drill-open'];
    await gql(live, service, 'mutation ($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted } }', {
      events: users.map((userId, i) => ({
        userId,
        metric: 'llm_input_tokens',
        quantity: String(1_000_000 * (i + 1)),
        occurredAt: `${PERIOD}-10T10:00:00Z`,
        idempotencyKey: `drill-${userId}`,
      })),
    });
    const ids: Record<string, string> = {};
    for (const userId of users) {
      const made = await gql<{ createInvoice: { id: string } }>(
        live,
        service,
        'mutation ($u: String, $p: String!) { createInvoice(userId: $u, period: $p) { ... on Invoice { id } } }',
        { u: userId, p: PERIOD },
      );
      ids[userId] = made.createInvoice.id;
    }
    await drained(live.db, 'before the backup');
    say(`4 invoices issued for ${PERIOD}; backing up with pg_dump -Fc`);
    const dump = path.join(work, 'backup.dump');
    execFileSync('pg_dump', ['-Fc', '-f', dump, sourceUrl]);
    const backupAt = new Date(Date.now() - 1000);

    // The hour that will be lost: a payment, a decline, a cancellation, each confirmed by Stripe's webhooks.
    const pay = async (userId: string, paymentMethodId: string) => {
      const token = await mintToken(secrets.jwt, { sub: userId, role: Role.USER, expiresIn: '1h' });
      await gql(
        live,
        token,
        'mutation ($i: ID!, $m: String!) { payInvoice(invoiceId: $i, paymentMethodId: $m) { __typename } }',
        {
          i: ids[userId],
          m: paymentMethodId,
        },
      );
    };
    await pay('drill-paid', 'pm_card_visa');
    await pay('drill-declined', 'pm_card_chargeDeclinedInsufficientFunds');
    const ops = await mintToken(secrets.jwt, { sub: 'ops', role: Role.ADMIN, expiresIn: '1h' });
    await gql(live, ops, 'mutation ($i: ID!) { cancelInvoice(invoiceId: $i, reason: "drill") { __typename } }', {
      i: ids['drill-voided'],
    });
    await drained(live.db, 'after the last hour');
    const before = await invoices(live.db);
    say(`before the loss: ${JSON.stringify(before)}`);
    return { dump, backupAt, before };
  });
}

/** Restores the backup into the (new, empty) database at `restoredUrl` and recovers; the drill's exit code. */
function afterTheLoss(
  restoredUrl: string,
  emulator: RunningEmulator,
  { dump, backupAt, before }: Backup,
): Promise<number> {
  execFileSync('pg_restore', ['--no-owner', '-d', restoredUrl, dump]);
  return withServer(restoredUrl, emulator, async (live) => {
    const restored = await invoices(live.db);
    const lost = Object.keys(before).filter((number) => before[number] !== restored[number]);
    say(`restored: ${lost.length} invoice(s) differ from before the loss: ${lost.join(', ')}`);

    say(`webhooks recover --since ${backupAt.toISOString()}`);
    const recovered = JSON.parse(await runCli(live, 'webhooks', 'recover', '--since', backupAt.toISOString())) as {
      listed: number;
      stored: number;
    };
    say(`  listed ${recovered.listed} Stripe events, stored ${recovered.stored}; the server's worker applies them`);
    await drained(live.db, 'after recovering');
    say(`reconcile --period ${PERIOD}`);
    const reconciled = JSON.parse(await runCli(live, 'reconcile', '--period', PERIOD)) as {
      checked?: number;
      changes?: unknown[];
    };
    say(`  checked ${reconciled.checked ?? '?'} invoice(s), ${reconciled.changes?.length ?? 0} change(s) applied`);
    const after = await invoices(live.db);
    const differ = Object.keys(before).filter((number) => before[number] !== after[number]);
    if (lost.length === 0 || recovered.stored === 0) {
      say('FAILED: the drill lost nothing, so it proved nothing');
      return 1;
    }
    if (differ.length > 0) {
      say(`FAILED: ${differ.map((n) => `${n}: ${after[n]} (was ${before[n]})`).join('; ')}`);
      return 1;
    }
    say(`consistent: all ${Object.keys(before).length} invoices as before the loss (${lost.length} recovered)`);
    return 0;
  });
}

async function main(): Promise<number> {
  const emulator = await startEmulator({ port: 0, webhookSecret: secrets.webhook });
  try {
    return await withScratchDatabase(adminUrl, names.source, async (sourceUrl) => {
      say(`source database ${names.source}, local Stripe at ${emulator.url}`);
      const backup = await beforeTheLoss(sourceUrl, emulator);
      say(`disaster: restoring the backup into ${names.restored} (pg_restore)`);
      return withScratchDatabase(adminUrl, names.restored, (restoredUrl) =>
        afterTheLoss(restoredUrl, emulator, backup),
      );
    });
  } finally {
    await emulator.stop();
    removeWork();
  }
}

runBench(main);
