/**
 * A billing run against a rate-limited local Stripe: how much of the limit it uses and how many of its requests
 * Stripe refuses (429), at each limit asked for.
 *
 *   npm run bench:billing -- [--customers 300] [--limits 25,100]
 *
 * The local Stripe runs in a child process with `--rate-limit N` (so it announces `RateLimit-Policy: N;w=1`); the
 * run itself (`runBilling`, the gateway from the configuration, as the server and the CLI build it) in this one. The
 * baseline of the same run is the limit itself: the figure is requests per second Stripe let through, the ratio
 * that over the limit (target ≥ 0.90) and the 429 share (target < 1 %). Stripe's counts are read from
 * `GET /_emulator/rate-limit`. Uses a fresh database on BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { parseCommandLine } from '../src/cli/args';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { runBilling } from '../src/services/billing-runs/billing-run.service';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { gatewayFromConfig } from '../src/stripe/gateway-from-config';

export interface BillingBenchResult {
  limit: number;
  customers: number;
  seconds: number;
  allowed: number;
  refused: number;
  /** Requests per second Stripe let through. */
  rate: number;
  /** Customers not invoiced (failed or skipped). */
  failed: number;
}

const SERVICE = { userId: 'bench', role: Role.SERVICE };

/** Starts the local Stripe (dist/emulator/main.js) in a child process; resolves with its URL. */
export async function spawnEmulator(args: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const main = path.join(__dirname, '..', 'emulator', 'main.js');
  const child = fork(main, ['--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { url, child };
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function control<T>(base: string, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/_emulator${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as T;
}

/** One billing run of `customers` new customers per limit, each against a freshly limited local Stripe. */
export async function benchBilling(options: {
  customers: number;
  limits: number[];
  /** Customers invoiced at once (`BILLING_CONCURRENCY`); default 8. */
  concurrency?: number;
  serverUrl?: string;
}): Promise<BillingBenchResult[]> {
  const serverUrl =
    options.serverUrl ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const emulator = await spawnEmulator();
  const db = await openDatabase({ databaseUrl: url.toString() });
  const results: BillingBenchResult[] = [];
  try {
    await migrate(db.orm);
    await seedDefaultCatalogue(db.orm.em.fork());
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: url.toString(),
      STRIPE_API_BASE: emulator.url,
    });
    for (const [index, limit] of options.limits.entries()) {
      // A month of its own per round: 2025-01, 2025-02, … (the default prices start in 2024)
      const period = `2025-${String(index + 1).padStart(2, '0')}`;
      const users = Array.from({ length: options.customers }, (_, i) => `bench-${period}-${i}`);
      for (let offset = 0; offset < users.length; offset += 1000) {
        await recordUsage(
          db.orm.em.fork(),
          SERVICE,
          users.slice(offset, offset + 1000).map((userId) => ({
            userId,
            metric: 'llm_input_tokens',
            quantity: '1234567',
            occurredAt: `${period}-15T10:00:00Z`,
            idempotencyKey: `bench-${userId}`,
          })),
        );
      }
      await control(emulator.url, 'POST', '/rate-limit', { limit });
      // A new gateway per round, as a new process would have: it learns the limit from the first answer.
      const gateway = gatewayFromConfig(config);
      const started = process.hrtime.bigint();
      const outcome = await runBilling({ em: db.orm.em, gateway, config }, period, {
        concurrency: options.concurrency ?? 8,
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const counts = await control<{ allowed: number; refused: number }>(emulator.url, 'GET', '/rate-limit');
      results.push({
        limit,
        customers: options.customers,
        seconds,
        allowed: counts.allowed,
        refused: counts.refused,
        rate: counts.allowed / seconds,
        failed: outcome.kind === 'completed' ? outcome.run.failed + outcome.run.skipped : options.customers,
      });
    }
  } finally {
    await db.close();
    emulator.child.kill();
    await withClient(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
  }
  return results;
}

export function describeBillingResult(r: BillingBenchResult): string {
  const total = r.allowed + r.refused;
  return (
    `billing run, ${r.customers} customers, local Stripe limited to ${r.limit}/s: ${r.seconds.toFixed(1)} s, ` +
    `${r.allowed} requests let through (${r.rate.toFixed(1)}/s = ${((100 * r.rate) / r.limit).toFixed(1)} % of the ` +
    `limit), ${r.refused} answered 429 (${((100 * r.refused) / Math.max(1, total)).toFixed(2)} %), ${r.failed} not invoiced`
  );
}

if (require.main === module) {
  const { flags } = parseCommandLine(process.argv.slice(2), {
    customers: { type: 'string', value: 'N', description: 'customers billed per run (default 300)' },
    concurrency: { type: 'string', value: 'N', description: 'customers invoiced at once (default 8)' },
    limits: {
      type: 'string',
      value: 'N,N',
      description: 'rate limits of the local Stripe, one run each (default 25,100)',
    },
  });
  const customers = Number(flags.customers ?? 300);
  const limits = String(flags.limits ?? '25,100')
    .split(',')
    .map(Number);
  benchBilling({ customers, limits, concurrency: Number(flags.concurrency ?? 8) })
    .then((results) => {
      for (const r of results) {
        process.stdout.write(`${describeBillingResult(r)}\n`);
      }
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
