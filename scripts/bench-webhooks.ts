/**
 * Acknowledged Stripe webhooks per second at `POST /api/v1/webhooks/stripe` (raw body, signature check, durable
 * insert, 200), next to a baseline in the same run: a bare `node:http` server doing the same signature check and the
 * same insert through `pg`. Each server runs in its own process and the load generator (this process) in another, as a
 * deployment runs; rounds alternate which side goes first, at each concurrency, and the verdict is the median round's
 * ratio (target: the route at ≥ 0.85× the baseline at 16 and 64 connections). Each server reports the CPU it spent
 * per event and its RSS.
 *
 *   npm run bench:webhooks -- [--events 4000] [--concurrency 16,64] [--rounds 5] [--smoke] [--json]
 *
 * `BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` profiles both servers.
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
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
import { Client, Pool } from 'pg';
import Stripe from 'stripe';
import { loadConfig } from '../src/config/config';
import { migrate, openDatabase } from '../src/entities/orm';
import { numberFlag, parseCommandLine } from '../src/cli/args';
import { createServer } from '../src/server';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
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

/** Keep-alive HTTP client on node:http (lighter than fetch, so the servers, not the client, dominate the figures). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, payload: string, secret: string): Promise<number> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Sends `total` signed events with `concurrency` requests in flight; returns seconds elapsed. */
async function drive(
  url: string,
  prefix: string,
  options: { total: number; concurrency: number; secret: string },
): Promise<number> {
  const bodies = Array.from({ length: options.total }, (_, i) => event(prefix, i));
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < bodies.length) {
        const payload = bodies[next];
        next += 1;
        const status = await post(url, payload, options.secret);
        if (status !== 200) {
          throw new Error(`HTTP ${status} from ${url}`);
        }
      }
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The baseline: the least a correct receiver must do (verify, insert, answer), with nothing around it. */
async function baselineServer(url: string, secret: string): Promise<{ url: string; close(): Promise<void> }> {
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
async function routeServer(url: string, secret: string): Promise<{ url: string; close(): Promise<void> }> {
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

/** A server process (`--serve route|baseline`): says its URL, answers `cpu` with its CPU and RSS, `stop` ends it. */
async function serve(kind: string): Promise<void> {
  const url = process.env.BENCH_SERVE_DB ?? DEFAULT_URL;
  const secret = process.env.BENCH_SERVE_SECRET ?? '';
  const server = kind === 'route' ? await routeServer(url, secret) : await baselineServer(url, secret);
  process.on('message', (message) => {
    if (message === 'cpu') {
      const used = process.cpuUsage();
      process.send?.({
        cpuMs: (used.user + used.system) / 1000,
        rssMb: Math.round(process.memoryUsage().rss / 1048576),
      });
    } else if (message === 'stop') {
      void server.close().then(() => process.exit(0));
    }
  });
  process.send?.({ url: server.url });
}

interface ServerProcess {
  url: string;
  /** CPU ms spent so far and RSS now. */
  usage(): Promise<{ cpuMs: number; rssMb: number }>;
  stop(): Promise<void>;
}

async function startServer(kind: 'route' | 'baseline', dbUrl: string, secret: string): Promise<ServerProcess> {
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
      const answer = next<{ cpuMs: number; rssMb: number }>();
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

async function admin(serverUrl: string, fn: (c: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const { flags } = parseCommandLine(process.argv.slice(2), {
    events: { type: 'string', value: 'N', description: 'events per run (default 4000; --smoke 300)' },
    concurrency: { type: 'string', value: 'N,M', description: 'requests in flight, one or more (default 16,64)' },
    rounds: { type: 'string', value: 'N', description: 'alternating rounds per concurrency (default 5; --smoke 1)' },
    smoke: { type: 'boolean', description: 'a short run (CI): a few hundred events, one round at 16' },
    json: { type: 'boolean', description: 'also print one BENCH_ROW line per measured row' },
  });
  const smoke = flags.smoke === true;
  const total = numberFlag(flags, 'events', smoke ? 300 : 4000);
  const rounds = Math.max(1, numberFlag(flags, 'rounds', smoke ? 1 : 5));
  const levels = String(flags.concurrency ?? (smoke ? '16' : '16,64'))
    .split(',')
    .map((level) => Number(level))
    .filter((level) => Number.isInteger(level) && level > 0);
  const serverUrl = process.env.BENCH_DATABASE_URL ?? DEFAULT_URL;
  const secret = `whsec_${randomBytes(16).toString('hex')}`;

  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await admin(serverUrl, (c) => c.query(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const rows: string[] = [];
  try {
    const db = await openDatabase({ databaseUrl: url.toString() });
    await migrate(db.orm);
    await db.close();
    const route = await startServer('route', url.toString(), secret);
    const baseline = await startServer('baseline', url.toString(), secret);
    try {
      // Warm both paths (JIT, connection pools), then alternate which goes first in each measured round.
      const warm = { total: Math.min(total, 1000), concurrency: levels[0] ?? 16, secret };
      await drive(baseline.url, 'warm-a', warm);
      await drive(route.url, 'warm-b', warm);
      const rate = (s: number): string => `${Math.round(total / s).toLocaleString('en-US')}/s`.padStart(9);
      out(`webhook intake: ${total.toLocaleString('en-US')} signed events per run, each server in its own process`);
      out(`  baseline = node:http + constructEvent + pg insert;  route = POST /api/v1/webhooks/stripe (full server)`);
      for (const concurrency of levels) {
        const options = { total, concurrency, secret };
        const ratios: number[] = [];
        const routeRates: number[] = [];
        const baselineRates: number[] = [];
        const cpu = { route: 0, baseline: 0 };
        const timed = async (side: 'route' | 'baseline', prefix: string): Promise<number> => {
          const server = side === 'route' ? route : baseline;
          const before = await server.usage();
          const seconds = await drive(server.url, prefix, options);
          cpu[side] += (await server.usage()).cpuMs - before.cpuMs;
          return seconds;
        };
        for (let round = 1; round <= rounds; round += 1) {
          let baselineSeconds: number;
          let routeSeconds: number;
          if (round % 2 === 1) {
            baselineSeconds = await timed('baseline', `base${concurrency}-${round}`);
            routeSeconds = await timed('route', `route${concurrency}-${round}`);
          } else {
            routeSeconds = await timed('route', `route${concurrency}-${round}`);
            baselineSeconds = await timed('baseline', `base${concurrency}-${round}`);
          }
          ratios.push(baselineSeconds / routeSeconds);
          routeRates.push(total / routeSeconds);
          baselineRates.push(total / baselineSeconds);
          out(
            `  ${concurrency} in flight, round ${round}: baseline ${rate(baselineSeconds)}  route ${rate(routeSeconds)}` +
              `  ratio ${(baselineSeconds / routeSeconds).toFixed(2)}`,
          );
        }
        const ratio = median(ratios);
        const perEvent = (ms: number): string => `${(ms / (total * rounds)).toFixed(3)} ms`;
        const rss = (await route.usage()).rssMb;
        out(
          `  ${concurrency} in flight: ratio route / baseline median ${ratio.toFixed(2)} (min ` +
            `${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}; target ≥ 0.85) ` +
            `${ratio >= 0.85 ? 'MET' : 'NOT MET'}; server CPU per event: route ${perEvent(cpu.route)}, baseline ` +
            `${perEvent(cpu.baseline)}; route RSS ${rss} MB`,
        );
        rows.push(
          `BENCH_ROW ${JSON.stringify({
            bench: 'webhooks',
            path: `webhook ack (verify + durable insert), ${concurrency} connections`,
            figure: Math.round(median(routeRates)),
            unit: 'events/s',
            baseline: 'bare node:http + constructEvent + pg insert',
            baselineFigure: Math.round(median(baselineRates)),
            ratio: Math.round(ratio * 100) / 100,
            target: '≥ 0.85×',
            rssMb: rss,
          })}`,
        );
      }
    } finally {
      agent.destroy();
      await Promise.all([route.stop(), baseline.stop()]);
    }
  } finally {
    await admin(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
  }
  if (flags.json === true) {
    rows.forEach((row) => out(row));
  }
}

if (require.main === module) {
  const serveAt = process.argv.indexOf('--serve');
  (serveAt >= 0 ? serve(process.argv[serveAt + 1] ?? 'route') : main()).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
