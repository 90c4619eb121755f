/**
 * Acknowledged Stripe webhooks per second at `POST /api/v1/webhooks/stripe` (raw body, signature check, durable
 * insert, 200), next to two others in the same run on the same signed events: a bare `node:http` server doing the same
 * signature check and the same insert through `pg` (the baseline; target: the route at ≥ 0.85× of it at 16 and 64
 * connections), and `@supabase/stripe-sync-engine` 0.48.5's `processWebhook` behind `node:http`, on a database of its
 * own with its migrations (scripts/lib/stripe-sync-server.ts; target: the route at ≥ 1.3× of it). Each server runs in
 * its own process and the load generator (this process) in another, as a deployment runs; rounds rotate which side
 * goes first, at each concurrency, and the verdicts are the median rounds' ratios. Each server reports the CPU it spent
 * per event and its p99 latency, the route its RSS, with the load average.
 *
 *   npm run bench:webhooks -- [--events 4000] [--concurrency 16,64] [--rounds 5] [--no-sync-engine] [--smoke] [--json]
 *
 * `BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` profiles every server.
 * Uses fresh databases on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 * The webhook worker is off, so only intake is measured.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import Stripe from 'stripe';
import { loadConfig } from '../src/config/config';
import { processMetrics } from '../src/lib/metrics';
import { migrate, openDatabase } from '../src/entities/orm';
import { createServer } from '../src/server';
import {
  benchCommandLine,
  benchServerUrl,
  loadAverage,
  median,
  postJson,
  runBench,
  withScratchDatabase,
} from './lib/bench-util';
import { stripeSyncServer } from './lib/stripe-sync-server';
import type { BenchServer } from './lib/stripe-sync-server';

const stripe = new Stripe('sk_test_bench');
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

function event(prefix: string, i: number): string {
  return JSON.stringify({
    id: `evt_${prefix}_${i}_${randomBytes(4).toString('hex')}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'invoice.updated',
    data: { object: { id: `in_bench_${i}`, object: 'invoice', status: 'open', metadata: {} } },
  });
}

const post = async (agent: http.Agent, url: string, payload: string, secret: string): Promise<number> =>
  (
    await postJson(
      agent,
      url,
      payload,
      { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }) },
      { body: false },
    )
  ).status;

/** Sends `total` signed events with `concurrency` requests in flight; returns seconds elapsed and the p99 latency. */
async function drive(
  url: string,
  prefix: string,
  options: { total: number; concurrency: number; secret: string },
): Promise<{ seconds: number; p99Ms: number }> {
  const bodies = Array.from({ length: options.total }, (_, i) => event(prefix, i));
  const latencies: number[] = [];
  // Keep-alive HTTP client on node:http (lighter than fetch, so the servers, not the client, dominate the figures).
  // One per run: a server left idle while the others run closes its kept-alive sockets (keepAliveTimeout), and a
  // request sent on one as it closes fails with ECONNRESET.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < bodies.length) {
        const payload = bodies[next];
        next += 1;
        const sent = process.hrtime.bigint();
        const status = await post(agent, url, payload, options.secret);
        latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
        if (status !== 200) {
          throw new Error(`HTTP ${status} from ${url}`);
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { seconds, p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] };
}

/** The baseline: the least a correct receiver must do (verify, insert, answer), with nothing around it. */
async function baselineServer(url: string, secret: string): Promise<BenchServer> {
  const pool = new Pool({ connectionString: url, max: 10 });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let evt: Stripe.Event;
      try {
        evt = stripe.webhooks.constructEvent(raw, String(req.headers['stripe-signature']), secret, 300);
      } catch {
        res.writeHead(400).end();
        return;
      }
      pool
        .query(
          `insert into webhook_events (id, type, api_version, livemode, object_id, payload, stripe_created_at)
           values ($1, $2, $3, $4, $5, $6, to_timestamp($7)) on conflict (id) do nothing`,
          [
            evt.id,
            evt.type,
            evt.api_version,
            evt.livemode,
            (evt.data.object as { id?: string }).id,
            raw.toString(),
            evt.created,
          ],
        )
        .then(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}'),
          () => res.writeHead(500).end(),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

/** The project's server, as `npm start` assembles it, intake only. */
async function routeServer(url: string, secret: string): Promise<BenchServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
  const db = await openDatabase({ databaseUrl: url });
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: randomUUID() + randomUUID(),
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_API_BASE: 'http://127.0.0.1:9',
    STRIPE_WEBHOOK_SECRET: secret,
    DATA_DIR: dataDir,
    // Intake only: no worker applying the stored events.
    WEBHOOK_WORKER_ENABLED: 'false',
    // One client IP sends everything here; the per-IP limit (100/s) would measure itself, not the route.
    WEBHOOK_RATE_LIMIT_PER_SECOND: '0',
    BILLING_SCHEDULER_ENABLED: 'false',
  });
  const server = await createServer({ config, db });
  const base = await server.listen(0, '127.0.0.1');
  return {
    url: `${base}/api/v1/webhooks/stripe`,
    close: async () => {
      await server.close();
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type Side = 'route' | 'baseline' | 'sync';

const SERVERS: Record<Side, (url: string, secret: string) => Promise<BenchServer>> = {
  route: routeServer,
  baseline: baselineServer,
  sync: stripeSyncServer,
};

/**
 * A server process (`--serve route|baseline|sync`): says its URL, answers `cpu` with its CPU and RSS, `stop` ends it.
 */
async function serve(kind: Side): Promise<void> {
  const url = process.env.BENCH_SERVE_DB ?? benchServerUrl();
  const secret = process.env.BENCH_SERVE_SECRET ?? '';
  const server = await SERVERS[kind](url, secret);
  process.on('message', (message) => {
    if (message === 'cpu') {
      const used = process.cpuUsage();
      void intakeInserts().then((inserts) =>
        process.send?.({
          cpuMs: (used.user + used.system) / 1000,
          rssMb: Math.round(process.memoryUsage().rss / 1048576),
          inserts,
        }),
      );
    } else if (message === 'stop') {
      void server.close().then(() => process.exit(0));
    }
  });
  process.send?.({ url: server.url });
}

/** The insert statements the route's intake ran so far (its group commit: several events per insert under load). */
async function intakeInserts(): Promise<number> {
  const metric = await processMetrics.getSingleMetric('agenthub_webhook_intake_batch_events')?.get();
  const count = metric?.values.find(
    (v) => (v as { metricName?: string }).metricName === 'agenthub_webhook_intake_batch_events_count',
  );
  return count?.value ?? 0;
}

interface ServerProcess {
  url: string;
  /** CPU ms spent so far and RSS now. */
  usage(): Promise<{ cpuMs: number; rssMb: number; inserts: number }>;
  stop(): Promise<void>;
}

async function startServer(kind: Side, dbUrl: string, secret: string): Promise<ServerProcess> {
  const child: ChildProcess = fork(__filename, ['--serve', kind], {
    env: { ...process.env, BENCH_SERVE_DB: dbUrl, BENCH_SERVE_SECRET: secret },
    execArgv: process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(): Promise<T> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`${kind} server exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (message) => {
        child.off('exit', onExit);
        resolve(message as T);
      });
    });
  const { url } = await next<{ url: string }>();
  return {
    url,
    usage: () => {
      const answer = next<{ cpuMs: number; rssMb: number; inserts: number }>();
      child.send('cpu');
      return answer;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}

const LABEL: Record<Side, string> = { baseline: 'baseline', route: 'route', sync: 'sync-engine' };

/** What one side did at one concurrency over the rounds. */
interface Tally {
  seconds: number[];
  p99Ms: number[];
  cpuMs: number;
  /** Insert statements of the route's intake (0 for the others). */
  inserts: number;
}

async function main(): Promise<void> {
  const ABOUT =
    'Signed Stripe webhooks acknowledged per second by the route, against a bare node:http baseline and stripe-sync-engine.';
  const { flags, number, numbers } = benchCommandLine('npm run bench:webhooks', ABOUT, {
    events: { type: 'string', value: 'N', description: 'events per run (default 4000; --smoke 300)' },
    concurrency: { type: 'string', value: 'N,M', description: 'requests in flight, one or more (default 16,64)' },
    rounds: { type: 'string', value: 'N', description: 'rotating rounds per concurrency (default 5; --smoke 1)' },
    'no-sync-engine': { type: 'boolean', description: 'leave @supabase/stripe-sync-engine out' },
    smoke: { type: 'boolean', description: 'a short run (CI): a few hundred events, one round at 16' },
    json: { type: 'boolean', description: 'also print one BENCH_ROW line per measured row' },
  });
  const smoke = flags.smoke === true;
  const total = number('events', smoke ? 300 : 4000);
  const rounds = Math.max(1, number('rounds', smoke ? 1 : 5));
  const levels = numbers('concurrency', smoke ? [16] : [16, 64]);
  const sides: Side[] = flags['no-sync-engine'] === true ? ['baseline', 'route'] : ['baseline', 'route', 'sync'];
  const serverUrl = benchServerUrl();
  const secret = `whsec_${randomBytes(16).toString('hex')}`;

  // One database for ours and the baseline (same table), one of its own for stripe-sync-engine's schema.
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  const rows: string[] = [];
  await withScratchDatabase(serverUrl, name, (ours) =>
    withScratchDatabase(serverUrl, `${name}_sync`, async (sync) => {
      const db = await openDatabase({ databaseUrl: ours });
      await migrate(db.orm);
      await db.close();
      const servers = {} as Record<Side, ServerProcess>;
      try {
        for (const side of sides) {
          servers[side] = await startServer(side, side === 'sync' ? sync : ours, secret);
        }
        // Warm every path (JIT, connection pools), then rotate which goes first in each measured round.
        const warm = { total: Math.min(total, 1000), concurrency: levels[0], secret };
        for (const side of sides) {
          await drive(servers[side].url, `warm-${side}`, warm);
        }
        const rate = (s: number): string => `${Math.round(total / s).toLocaleString('en-US')}/s`.padStart(9);
        out(
          `webhook intake: ${total.toLocaleString('en-US')} signed events per run, each server in its own process; ` +
            `load average ${loadAverage()}`,
        );
        out(`  baseline = node:http + constructEvent + pg insert;  route = POST /api/v1/webhooks/stripe (full server)`);
        if (sides.includes('sync')) {
          out(`  sync-engine = node:http + @supabase/stripe-sync-engine 0.48.5 processWebhook (its own database)`);
        }
        for (const concurrency of levels) {
          const options = { total, concurrency, secret };
          const tally = {} as Record<Side, Tally>;
          for (const side of sides) {
            tally[side] = { seconds: [], p99Ms: [], cpuMs: 0, inserts: 0 };
          }
          const vsBaseline: number[] = [];
          const vsSync: number[] = [];
          for (let round = 1; round <= rounds; round += 1) {
            const order = sides.map((_, i) => sides[(i + round - 1) % sides.length]);
            for (const side of order) {
              const before = await servers[side].usage();
              const run = await drive(servers[side].url, `${side}${concurrency}-${round}`, options);
              const after = await servers[side].usage();
              tally[side].cpuMs += after.cpuMs - before.cpuMs;
              tally[side].inserts += after.inserts - before.inserts;
              tally[side].seconds.push(run.seconds);
              tally[side].p99Ms.push(run.p99Ms);
            }
            const routeSeconds = tally.route.seconds[round - 1];
            vsBaseline.push(tally.baseline.seconds[round - 1] / routeSeconds);
            if (sides.includes('sync')) {
              vsSync.push(tally.sync.seconds[round - 1] / routeSeconds);
            }
            out(
              `  ${concurrency} in flight, round ${round}: ` +
                sides.map((side) => `${LABEL[side]} ${rate(tally[side].seconds[round - 1])}`).join('  ') +
                `  route / baseline ${vsBaseline[round - 1].toFixed(2)}` +
                (vsSync.length > 0 ? `  route / sync-engine ${vsSync[round - 1].toFixed(2)}` : ''),
            );
          }
          const rss = (await servers.route.usage()).rssMb;
          const figure = (side: Side): number => Math.round(total / median(tally[side].seconds));
          const perEvent = (side: Side): string =>
            `${LABEL[side]} ${(tally[side].cpuMs / (total * rounds)).toFixed(3)} ms CPU, p99 ${median(tally[side].p99Ms).toFixed(1)} ms`;
          const verdict = (ratios: number[], target: number, against: string): string => {
            const ratio = median(ratios);
            return (
              `route / ${against} median ${ratio.toFixed(2)} (min ${Math.min(...ratios).toFixed(2)}, max ` +
              `${Math.max(...ratios).toFixed(2)}; target ≥ ${target}) ${ratio >= target ? 'MET' : 'NOT MET'}`
            );
          };
          out(`  ${concurrency} in flight: ${verdict(vsBaseline, 0.85, 'baseline')}`);
          if (vsSync.length > 0) {
            out(`  ${concurrency} in flight: ${verdict(vsSync, 1.3, 'sync-engine')}`);
          }
          out(`    per event: ${sides.map(perEvent).join('; ')}; route RSS ${rss} MB; load average ${loadAverage()}`);
          const perInsert = (total * rounds) / Math.max(1, tally.route.inserts);
          out(
            `    route: ${perInsert.toFixed(1)} events per insert on average (deliveries arriving together share one)`,
          );
          const row = (baseline: string, baselineSide: Side, ratios: number[], target: string): string =>
            `BENCH_ROW ${JSON.stringify({
              bench: 'webhooks',
              path: `webhook ack (verify + durable insert), ${concurrency} connections, vs ${LABEL[baselineSide]}`,
              figure: figure('route'),
              unit: 'events/s',
              baseline,
              baselineFigure: figure(baselineSide),
              ratio: Math.round(median(ratios) * 100) / 100,
              target,
              rssMb: rss,
            })}`;
          rows.push(row('bare node:http + constructEvent + pg insert', 'baseline', vsBaseline, '≥ 0.85×'));
          if (vsSync.length > 0) {
            rows.push(row('@supabase/stripe-sync-engine 0.48.5 processWebhook', 'sync', vsSync, '≥ 1.3×'));
          }
        }
      } finally {
        await Promise.all(Object.values(servers).map((server) => server.stop()));
      }
    }),
  );
  if (flags.json === true) {
    rows.forEach((row) => out(row));
  }
}

if (require.main === module) {
  const serveAt = process.argv.indexOf('--serve');
  runBench(serveAt >= 0 ? () => serve((process.argv[serveAt + 1] ?? 'route') as Side) : main);
}
