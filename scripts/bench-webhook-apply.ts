/**
 * Webhook apply throughput: a burst of stored Stripe events drained by webhook workers, each in its own process (as
 * instances would run), next to a baseline in the same run: the same burst drained by the least a queue consumer
 * does (claim a batch with SKIP LOCKED and mark it done in one statement, no handler).
 *
 *   npm run bench:webhook-apply -- [--events 10000] [--workers 3] [--batch-size 100] [--rounds 3]
 *                                  [--compare <build dir>] [--smoke] [--json]
 *
 * The burst is about invoices this database holds (seeded per run, OPEN, linked to their Stripe ids): per invoice
 * `invoice.finalized` (already open: details refreshed), `invoice.payment_failed` (→ PAYMENT_FAILED),
 * `invoice.updated`, `invoice.paid` (→ PAID), one Stripe second apart; two status changes per four events, each with
 * its history row, outgoing webhook event and NOTIFY. Each worker process counts the statements it sends (a wrapper
 * around `pg`'s `Client#query`, in this bench only) and its CPU, and the bench database's PostgreSQL backends' CPU is
 * read from /proc (a server on this machine): the figures say how many per event, and what rate that CPU alone would
 * allow on this machine's cores (the estimate for an idle machine; a loaded one reads far lower rates).
 * Rows (`--json`): events/s (target ≥ 1,000/s) and the burst's drain time by `--workers` instances (target ≤ 10 s,
 * judged for a burst of 10,000).
 * `--compare <dir>`: also drain the same burst with the worker of another build of this project (a folder holding
 * `src/webhooks/webhook-worker.js`, e.g. `dist/` of an earlier commit built with `node scripts/build-server.mjs --out`),
 * alternating which goes first each round; the verdict is each side's median round.
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type * as PgModule from 'pg';
import type * as ConfigModule from '../src/config/config';
import type * as LoggerModule from '../src/config/logger';
import type * as ClockModule from '../src/config/clock';
import type * as OrmModule from '../src/entities/orm';
import type * as DispatchModule from '../src/webhooks/dispatch-table';
import type * as OptionsModule from '../src/webhooks/webhook-options';
import type * as WorkerModule from '../src/webhooks/webhook-worker';
import { migrate, openDatabase } from '../src/entities/orm';
import { emitRow, ratioOf } from './lib/bench-row';
import {
  benchCommandLine,
  benchServerUrl,
  loadAverage,
  median,
  runBench,
  withClient,
  withScratchDatabase,
} from './lib/bench-util';

const STEPS = [
  { type: 'invoice.finalized', status: 'open', attempts: 0, paid: false },
  { type: 'invoice.payment_failed', status: 'open', attempts: 1, paid: false },
  { type: 'invoice.updated', status: 'open', attempts: 1, paid: false },
  { type: 'invoice.paid', status: 'paid', attempts: 2, paid: true },
] as const;
const TOTAL = 12_345;

function eventJson(prefix: string, invoice: { id: string; stripeId: string }, step: number, created: number): string {
  const s = STEPS[step];
  return JSON.stringify({
    id: `evt_${prefix}_${invoice.stripeId}_${step}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: created + step,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: s.type,
    data: {
      object: {
        id: invoice.stripeId,
        object: 'invoice',
        status: s.status,
        currency: 'usd',
        total: TOTAL,
        amount_due: TOTAL,
        amount_paid: s.paid ? TOTAL : 0,
        pre_payment_credit_notes_amount: 0,
        post_payment_credit_notes_amount: 0,
        attempt_count: s.attempts,
        hosted_invoice_url: `https://invoice.stripe.com/i/acct_bench/${invoice.stripeId}`,
        invoice_pdf: `https://pay.stripe.com/invoice/acct_bench/${invoice.stripeId}/pdf`,
        due_date: created + 30 * 86_400,
        status_transitions: { finalized_at: created - 60, paid_at: s.paid ? created + step : null },
        metadata: { agenthub_invoice_id: invoice.id },
      },
    },
  });
}

/** `count` OPEN invoices (each with its customer) linked to Stripe ids, and their burst of events, stored. */
async function seedBurst(url: string, prefix: string, events: number): Promise<void> {
  const count = Math.ceil(events / STEPS.length);
  const invoices = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    customerId: randomUUID(),
    stripeId: `in_${prefix}_${i}`,
  }));
  const created = Math.floor(Date.now() / 1000);
  await withClient(url, async (c) => {
    await c.query(
      `insert into customers (id, external_user_id, created_at, updated_at)
       select (r->>'customerId')::uuid, 'bench-' || (r->>'customerId'), now(), now()
       from jsonb_array_elements($1::jsonb) r`,
      [JSON.stringify(invoices)],
    );
    await c.query(
      `insert into invoices (id, number, customer_id, period, period_start, period_end, currency, status,
         subtotal_minor, total_minor, stripe_invoice_id, created_at, updated_at)
       select (r->>'id')::uuid, 'AH-BENCH-' || (r->>'stripeId'), (r->>'customerId')::uuid, '2026-10',
         '2026-10-01', '2026-11-01', 'usd', 'OPEN', $2, $2, r->>'stripeId', now(), now()
       from jsonb_array_elements($1::jsonb) r`,
      [JSON.stringify(invoices), TOTAL],
    );
    const all: string[] = [];
    for (let step = 0; step < STEPS.length; step += 1) {
      for (const invoice of invoices) {
        if (all.length < events) {
          all.push(eventJson(prefix, invoice, step, created));
        }
      }
    }
    for (let i = 0; i < all.length; i += 2_000) {
      await c.query(
        `insert into webhook_events (id, type, api_version, livemode, object_id, payload, stripe_created_at)
         select e->>'id', e->>'type', e->>'api_version', false, e->'data'->'object'->>'id', e,
           to_timestamp((e->>'created')::bigint)
         from jsonb_array_elements($1::jsonb) e`,
        [`[${all.slice(i, i + 2_000).join(',')}]`],
      );
    }
  });
}

async function pending(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ n: string }>(`select count(*) as n from webhook_events where status = 'pending'`);
    return Number(rows[0].n);
  });
}

/**
 * CPU (user + system, ms) the PostgreSQL backends serving database `name` have used so far, by pid: read from
 * `/proc/<pid>/stat` (the server must run on this machine; 10 ms resolution). Empty when it cannot be read.
 */
async function backendCpu(url: string, name: string): Promise<Map<number, number>> {
  const pids = await withClient(url, async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [name],
    );
    return rows.map((row) => row.pid);
  });
  const cpu = new Map<number, number>();
  for (const pid of pids) {
    try {
      // Fields 14 and 15 (utime, stime) in clock ticks of 10 ms; the command name (2) may hold spaces: skip past ')'.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // Not on this machine, or gone.
    }
  }
  return cpu;
}

/** CPU the backends used between two `backendCpu` readings (a backend that appeared in between counts from zero). */
function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) {
    total += ms - (before.get(pid) ?? 0);
  }
  return total;
}

const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));

/**
 * The least a consumer does: claim a batch (SKIP LOCKED), mark it done, commit; `workers` of them at once. Returns the
 * drain's time and the CPU its backends used.
 */
async function baselineDrain(
  url: string,
  workers: number,
  batchSize: number,
): Promise<{ seconds: number; pgCpuMs: number }> {
  const clients = Array.from({ length: workers }, () => new Client({ connectionString: url }));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    const before = await backendCpu(url, databaseName(url));
    const started = process.hrtime.bigint();
    await Promise.all(
      clients.map(async (c) => {
        for (;;) {
          await c.query('begin');
          const { rowCount } = await c.query(
            `update webhook_events set status = 'ignored', attempts = attempts + 1, processed_at = clock_timestamp()
             where id in (select id from webhook_events where status = 'pending'
                          order by stripe_created_at, received_at, id limit $1 for update skip locked)`,
            [batchSize],
          );
          await c.query('commit');
          if (!rowCount) {
            return;
          }
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { seconds, pgCpuMs: cpuBetween(before, await backendCpu(url, databaseName(url))) };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

interface ChildReport {
  statements: number;
  /** CPU time (user + system) the process spent from start to stop, ms. */
  cpuMs: number;
  rssMb: number;
}

/** Starts `workers` worker processes of `build`, times the drain of what is pending, stops them. */
async function drainWithWorkers(
  url: string,
  build: string,
  workers: number,
  batchSize: number,
): Promise<{ seconds: number; statements: number; cpuMs: number; pgCpuMs: number; rssMb: number; failed: number }> {
  const children: ChildProcess[] = [];
  const ready: Array<Promise<void>> = [];
  for (let w = 0; w < workers; w += 1) {
    const child = fork(__filename, ['--child'], {
      // e.g. BENCH_CHILD_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the workers.
      execArgv: process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      env: { ...process.env, BENCH_CHILD_DB: url, BENCH_CHILD_BUILD: build, BENCH_CHILD_BATCH: String(batchSize) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    ready.push(
      new Promise((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`worker process exited (${code}) before it was ready`)));
      }),
    );
  }
  await Promise.all(ready);
  const before = await backendCpu(url, databaseName(url));
  const started = process.hrtime.bigint();
  for (const child of children) {
    child.send('start');
  }
  while ((await pending(url)) > 0) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const pgCpuMs = cpuBetween(before, await backendCpu(url, databaseName(url)));
  const reports = await Promise.all(
    children.map(
      (child) =>
        new Promise<ChildReport>((resolve, reject) => {
          child.removeAllListeners('exit');
          child.once('message', (report) => resolve(report as ChildReport));
          child.once('exit', (code) => reject(new Error(`worker process exited (${code}) without its figures`)));
          child.send('stop');
        }),
    ),
  );
  const failed = await withClient(url, async (c) => {
    const { rows } = await c.query<{ n: string }>(
      `select count(*) as n from webhook_events where status not in ('processed', 'ignored')`,
    );
    return Number(rows[0].n);
  });
  return {
    seconds,
    statements: reports.reduce((sum, r) => sum + r.statements, 0),
    cpuMs: reports.reduce((sum, r) => sum + r.cpuMs, 0),
    pgCpuMs,
    rssMb: Math.max(...reports.map((r) => r.rssMb)),
    failed,
  };
}

/** A worker process: the webhook worker of `BENCH_CHILD_BUILD`, on its own pool, started and stopped by the parent. */
async function child(): Promise<void> {
  const build = process.env.BENCH_CHILD_BUILD ?? path.resolve(__dirname, '..');
  const load = createRequire(path.join(build, 'src/webhooks/webhook-worker.js'));
  // Every statement of this process, counted where both the ORM and raw queries end: pg's Client#query.
  let statements = 0;
  let cpu = process.cpuUsage();
  const pg = load('pg') as typeof PgModule;
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function counted(this: unknown, ...args: unknown[]) {
    statements += 1;
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;
  const { loadConfig } = load('../config/config') as typeof ConfigModule;
  const { createLogger } = load('../config/logger') as typeof LoggerModule;
  const { systemClock } = load('../config/clock') as typeof ClockModule;
  const { openDatabase } = load('../entities/orm') as typeof OrmModule;
  const { DISPATCH_TABLE } = load('./dispatch-table') as typeof DispatchModule;
  const { resolveWebhookOptions } = load('./webhook-options') as typeof OptionsModule;
  const { WebhookWorker } = load('./webhook-worker') as typeof WorkerModule;
  const url = process.env.BENCH_CHILD_DB ?? benchServerUrl();
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    DATABASE_URL: url,
  });
  const db = await openDatabase({ databaseUrl: url });
  const options = resolveWebhookOptions(config, {
    batchSize: Number(process.env.BENCH_CHILD_BATCH ?? 100),
    workerEnabled: true,
  });
  const worker = new WebhookWorker(db, DISPATCH_TABLE, options, createLogger(config), systemClock);
  process.on('message', (message) => {
    if (message === 'start') {
      statements = 0;
      cpu = process.cpuUsage();
      worker.start();
    } else if (message === 'stop') {
      void worker.stop().then(async () => {
        const used = process.cpuUsage(cpu);
        const report: ChildReport = {
          statements,
          cpuMs: (used.user + used.system) / 1000,
          rssMb: Math.round(process.memoryUsage().rss / 1048576),
        };
        await db.close();
        process.send?.(report, () => process.exit(0));
      });
    }
  });
  process.send?.('ready');
}

interface Side {
  name: string;
  build: string;
  seconds: number[];
  statements: number[];
  cpuMs: number[];
  pgCpuMs: number[];
  rssMb: number;
}

async function main(): Promise<void> {
  const ABOUT = 'Webhook events applied per second by worker processes sharing a burst, against claim+mark alone.';
  const { flags, number } = benchCommandLine('npm run bench:webhook-apply', ABOUT, {
    events: { type: 'string', value: 'N', description: 'events in the burst (default 10000; --smoke 400)' },
    workers: { type: 'string', value: 'N', description: 'instances (worker processes) sharing it (default 3)' },
    'batch-size': { type: 'string', value: 'N', description: 'events claimed per transaction (default 100)' },
    rounds: { type: 'string', value: 'N', description: 'alternating rounds (default 3; --smoke 1)' },
    compare: { type: 'string', value: 'DIR', description: "another build's output folder, drained side by side" },
    smoke: { type: 'boolean', description: 'a short run (CI): a small burst, one round' },
    json: { type: 'boolean', description: 'also print one BENCH_ROW line per measured row' },
  });
  const smoke = flags.smoke === true;
  const events = number('events', smoke ? 400 : 10_000);
  const workers = number('workers', smoke ? 2 : 3);
  const batchSize = number('batch-size', 100);
  const rounds = Math.max(1, number('rounds', smoke ? 1 : 3));
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);

  const sides: Side[] = [
    {
      name: 'worker',
      build: path.resolve(__dirname, '..'),
      seconds: [],
      statements: [],
      cpuMs: [],
      pgCpuMs: [],
      rssMb: 0,
    },
  ];
  if (typeof flags.compare === 'string') {
    sides.push({
      name: 'compare',
      build: path.resolve(flags.compare),
      seconds: [],
      statements: [],
      cpuMs: [],
      pgCpuMs: [],
      rssMb: 0,
    });
  }
  const baselineSeconds: number[] = [];
  const baselinePgCpuMs: number[] = [];

  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await withScratchDatabase(benchServerUrl(), name, async (dbUrl) => {
    const db = await openDatabase({ databaseUrl: dbUrl });
    await migrate(db.orm);
    await db.close();
    out(
      `webhook apply: bursts of ${events.toLocaleString('en-US')} events, ${workers} worker processes, batches of ` +
        `${batchSize}, ${rounds} round(s)`,
    );
    for (let round = 1; round <= rounds; round += 1) {
      await seedBurst(dbUrl, `b${round}`, events);
      const base = await baselineDrain(dbUrl, workers, batchSize);
      baselineSeconds.push(base.seconds);
      baselinePgCpuMs.push(base.pgCpuMs);
      const order = round % 2 === 1 ? sides : [...sides].reverse();
      const line: string[] = [
        `  round ${round}: baseline ${rate(events, base.seconds)} (${perEvent(base.pgCpuMs, events)} ms of ` +
          `PostgreSQL CPU per event)`,
      ];
      for (const side of order) {
        await seedBurst(dbUrl, `${side.name}${round}`, events);
        const drained = await drainWithWorkers(dbUrl, side.build, workers, batchSize);
        if (drained.failed > 0) {
          throw new Error(`${side.name}: ${drained.failed} events not applied (failed or retrying)`);
        }
        side.seconds.push(drained.seconds);
        side.statements.push(drained.statements);
        side.cpuMs.push(drained.cpuMs);
        side.pgCpuMs.push(drained.pgCpuMs);
        side.rssMb = Math.max(side.rssMb, drained.rssMb);
        line.push(
          `${side.name} ${rate(events, drained.seconds)} (${drained.seconds.toFixed(2)} s, ` +
            `${(drained.statements / events).toFixed(2)} statements, ${perEvent(drained.cpuMs, events)} ms of worker ` +
            `and ${perEvent(drained.pgCpuMs, events)} ms of PostgreSQL CPU per event)`,
        );
      }
      out(`${line.join('  ')}  (load ${loadAverage()})`);
    }
  });

  const baseline = median(baselineSeconds);
  out(
    `  baseline claim+mark: median ${rate(events, baseline)}, ${perEvent(median(baselinePgCpuMs), events)} ms of ` +
      `PostgreSQL CPU per event`,
  );
  for (const side of sides) {
    const seconds = median(side.seconds);
    const perSecond = events / seconds;
    out(
      `  ${side.name} (${side.build}): median ${rate(events, seconds)}, burst drained in ${seconds.toFixed(2)} s, ` +
        `${(median(side.statements) / events).toFixed(2)} statements and ` +
        `${perEvent(median(side.cpuMs), events)} ms of worker and ${perEvent(median(side.pgCpuMs), events)} ms of ` +
        `PostgreSQL CPU per event (on ${cpus().length} cores, that CPU alone allows about ` +
        `${rate(events, (median(side.cpuMs) + median(side.pgCpuMs)) / 1000 / cpus().length)}), ` +
        `worker RSS ${side.rssMb} MB; ` +
        `target ≥ 1,000 events/s: ${perSecond >= 1000 ? 'MET' : 'NOT MET'}` +
        (events === 10_000 ? `, 10,000 drained in ≤ 10 s: ${seconds <= 10 ? 'MET' : 'NOT MET'}` : ''),
    );
  }
  if (sides.length === 2) {
    out(`  worker / compare: ${(median(sides[1].seconds) / median(sides[0].seconds)).toFixed(2)}×`);
  }
  const json = flags.json === true;
  const baselineFigure = Math.round(events / baseline);
  for (const side of sides) {
    const seconds = median(side.seconds);
    const name = side.name === 'worker' ? 'webhook apply' : `webhook apply (${side.build})`;
    const figure = Math.round(events / seconds);
    emitRow(json, {
      bench: 'webhook-apply',
      path: `${name}, burst of ${events}, ${workers} worker processes`,
      figure,
      unit: 'events/s',
      baseline: 'claim+mark only (SKIP LOCKED, no handler)',
      baselineFigure,
      ratio: ratioOf(figure, baselineFigure),
      target: '≥ 1000/s',
      rssMb: side.rssMb,
    });
    // The drain time of the burst, judged only at the size the target names.
    const drained = Math.round(seconds * 100) / 100;
    const baselineDrained = Math.round(baseline * 100) / 100;
    emitRow(json, {
      bench: 'webhook-apply',
      path: `${name}: burst of ${events} drained by ${workers} instances`,
      figure: drained,
      unit: 's',
      baseline: 'claim+mark only (SKIP LOCKED, no handler)',
      baselineFigure: baselineDrained,
      ratio: ratioOf(drained, baselineDrained),
      target: events === 10_000 ? '≤ 10 s' : null,
      rssMb: side.rssMb,
    });
  }
}

function perEvent(ms: number, events: number): string {
  return (ms / events).toFixed(2);
}

function rate(events: number, seconds: number): string {
  return `${Math.round(events / seconds).toLocaleString('en-US')} events/s`;
}

if (require.main === module) {
  runBench(process.argv.includes('--child') ? child : main);
}
