/**
 * A billing run against a rate-limited local Stripe: how much of the limit it uses and how many of its requests
 * Stripe refuses (429), at each limit asked for.
 *
 *   npm run bench:billing -- [--customers 1000] [--limits 25,100] [--concurrency N] [--smoke] [--json]
 *
 * The local Stripe runs in a child process with `--rate-limit N` (so it announces `RateLimit-Policy: N;w=1`); the
 * run itself (`runBilling`, the gateway from the configuration, as the server and the CLI build it) in this one. The
 * baseline of the same run is the limit itself: the figure is requests per second Stripe let through, the ratio
 * that over the limit (target ≥ 0.90) and the 429 share (target < 1 %). Stripe's counts are read from
 * `GET /_emulator/rate-limit`. `--smoke`: 5 customers at 100/s. Also printed: this process's CPU per invoice (the
 * run's own cost, what caps it once Stripe does not) and the machine's load before and after each run. Uses a fresh database on BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { runBilling } from '../src/services/billing-runs/billing-run.service';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { gatewayFromConfig } from '../src/stripe/gateway-from-config';
import { BENCH_OPTIONS, emitRow, ratioOf, rssMb } from './lib/bench-row';
import { benchCommandLine, benchServerUrl, loadAverage, runBench, withScratchDatabase } from './lib/bench-util';
import { spawnEmulator } from './lib/emulator-process';

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
  /** CPU time of this process (the run: services, ORM, SDK) per customer, in ms. */
  cpuMsPerCustomer: number;
  /** `uptime`'s load average before and after the run. */
  load: [string, string];
  /** This process's RSS after the run, in MB. */
  rssMb: number | null;
  /** Requests Stripe let through in each second of the run (where a run loses its pace: start, middle or end). */
  perSecond: number[];
}

const SERVICE = { userId: 'bench', role: Role.SERVICE };

async function control<T>(base: string, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/_emulator${route}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as T;
}

interface BillingBenchOptions {
  customers: number;
  limits: number[];
  /** Customers invoiced at once when the run starts (`BILLING_CONCURRENCY`); default the run's own (4). */
  concurrency?: number;
  serverUrl?: string;
}

/** One billing run of `customers` new customers per limit, each against a freshly limited local Stripe. */
export function benchBilling(options: BillingBenchOptions): Promise<BillingBenchResult[]> {
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  return withScratchDatabase(options.serverUrl ?? benchServerUrl(), name, (url) => billingRuns(url, options));
}

/** The runs of benchBilling, on the database at `url`. */
async function billingRuns(url: string, options: BillingBenchOptions): Promise<BillingBenchResult[]> {
  const emulator = await spawnEmulator();
  const db = await openDatabase({ databaseUrl: url });
  const results: BillingBenchResult[] = [];
  try {
    await migrate(db.orm);
    await seedDefaultCatalogue(db.orm.em.fork());
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: url,
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
      const before = loadAverage();
      const perSecond: number[] = [];
      let counted = 0;
      const sampler = setInterval(() => {
        void control<{ allowed: number }>(emulator.url, 'GET', '/rate-limit').then(({ allowed }) => {
          perSecond.push(allowed - counted);
          counted = allowed;
        });
      }, 1000);
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      const outcome = await runBilling({ em: db.orm.em, gateway, config }, period, {
        concurrency: options.concurrency,
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const used = process.cpuUsage(cpu);
      clearInterval(sampler);
      const counts = await control<{ allowed: number; refused: number }>(emulator.url, 'GET', '/rate-limit');
      results.push({
        limit,
        customers: options.customers,
        seconds,
        allowed: counts.allowed,
        refused: counts.refused,
        rate: counts.allowed / seconds,
        failed: outcome.kind === 'completed' ? outcome.run.failed + outcome.run.skipped : options.customers,
        cpuMsPerCustomer: (used.user + used.system) / 1000 / options.customers,
        load: [before, loadAverage()],
        rssMb: rssMb(),
        perSecond,
      });
    }
  } finally {
    await db.close();
    emulator.child.kill();
  }
  return results;
}

export function describeBillingResult(r: BillingBenchResult): string {
  const total = r.allowed + r.refused;
  return (
    `billing run, ${r.customers} customers, local Stripe limited to ${r.limit}/s: ${r.seconds.toFixed(1)} s, ` +
    `${r.allowed} requests let through (${r.rate.toFixed(1)}/s = ${((100 * r.rate) / r.limit).toFixed(1)} % of the ` +
    `limit), ${r.refused} answered 429 (${((100 * r.refused) / Math.max(1, total)).toFixed(2)} %), ${r.failed} not invoiced; ` +
    `CPU ${r.cpuMsPerCustomer.toFixed(1)} ms per customer; load ${r.load[0]} → ${r.load[1]}\n` +
    `  requests let through per second: ${r.perSecond.join(' ')}`
  );
}

/** The two rows of a run (scripts/lib/bench-row.ts): the share of the limit used, and the share answered 429. */
export function emitBillingRows(json: boolean, r: BillingBenchResult): void {
  const path = `billing run, ${r.customers.toLocaleString('en-US')} customers, local Stripe limited to ${r.limit}/s`;
  emitRow(json, {
    bench: 'billing',
    path: `${path}: requests let through`,
    figure: Math.round(r.rate * 10) / 10,
    unit: 'requests/s',
    baseline: 'the rate limit',
    baselineFigure: r.limit,
    ratio: ratioOf(r.rate, r.limit),
    target: '≥ 0.90×',
    rssMb: r.rssMb,
  });
  emitRow(json, {
    bench: 'billing',
    path: `${path}: requests answered 429`,
    figure: Math.round((10000 * r.refused) / Math.max(1, r.allowed + r.refused)) / 100,
    unit: '%',
    baseline: null,
    baselineFigure: null,
    ratio: null,
    target: '< 1 %',
    rssMb: r.rssMb,
  });
}

if (require.main === module) {
  const ABOUT =
    'A billing run against a rate-limited local Stripe: how much of the limit it uses, how much of it Stripe refuses.';
  const { flags, number, numbers } = benchCommandLine('npm run bench:billing', ABOUT, {
    customers: { type: 'string', value: 'N', description: 'customers billed per run (default 1000; smoke 5)' },
    concurrency: {
      type: 'string',
      value: 'N',
      description: "customers invoiced at once at the start (default the run's own, 4; it adds more as needed)",
    },
    limits: {
      type: 'string',
      value: 'N,N',
      description: 'rate limits of the local Stripe, one run each (default 25,100; smoke 100)',
    },
    ...BENCH_OPTIONS,
  });
  const smoke = flags.smoke === true;
  const customers = number('customers', smoke ? 5 : 1000);
  const limits = numbers('limits', smoke ? [100] : [25, 100]);
  const concurrency = flags.concurrency === undefined ? undefined : number('concurrency', 0);
  runBench(async () => {
    for (const r of await benchBilling({ customers, limits, concurrency })) {
      process.stdout.write(`${describeBillingResult(r)}\n`);
      emitBillingRows(flags.json === true, r);
    }
  });
}
