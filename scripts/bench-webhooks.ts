/**
 * Acknowledged Stripe webhooks per second at `POST /api/v1/webhooks/stripe` (raw body, signature check, durable
 * insert, 200), next to a baseline in the same process: a bare `node:http` server doing the same signature check and
 * the same insert through `pg`. Prints both and the ratio (target: the route at ≥ 60% of the baseline).
 *
 *   npm run bench:webhooks -- [--events 4000] [--concurrency 16] [--rounds 7]
 *
 * Client, route and baseline share one event loop on purpose (the ratio compares like with like), so a round's
 * figures move with whatever else the machine does; the rounds alternate which side goes first and the verdict is
 * the median round's ratio, with every round printed.
 *
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 * The webhook worker is off, so only intake is measured.
 */
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

const { flags } = parseCommandLine(process.argv.slice(2), {
  events: { type: 'string', value: 'N', description: 'events per round (default 4000)' },
  concurrency: { type: 'string', value: 'N', description: 'requests in flight (default 16)' },
  rounds: { type: 'string', value: 'N', description: 'alternating rounds per server (default 7)' },
});
const arg = (name: string, fallback: number): number => numberFlag(flags, name, fallback);

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const total = arg('events', 4000);
const concurrency = arg('concurrency', 16);
const rounds = Math.max(1, arg('rounds', 7));
const secret = `whsec_${randomBytes(16).toString('hex')}`;
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
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(url: string, payload: string): Promise<number> {
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
async function drive(url: string, prefix: string): Promise<number> {
  const bodies = Array.from({ length: total }, (_, i) => event(prefix, i));
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const payload = bodies[next];
        next += 1;
        const status = await post(url, payload);
        if (status !== 200) {
          throw new Error(`HTTP ${status} from ${url}`);
        }
      }
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** The baseline: the least a correct receiver must do (verify, insert, answer), with nothing around it. */
async function baselineServer(url: string): Promise<{ url: string; close(): Promise<void> }> {
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

async function admin(fn: (c: Client) => Promise<unknown>): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
  const db = await openDatabase({ databaseUrl: url.toString() });
  try {
    await migrate(db.orm);
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
    const baseline = await baselineServer(url.toString());

    // Warm both paths (JIT, connection pools), then alternate which goes first in each measured round.
    const routeUrl = `${base}/api/v1/webhooks/stripe`;
    await drive(baseline.url, 'warm-a');
    await drive(routeUrl, 'warm-b');
    const rate = (s: number): string => `${Math.round(total / s).toLocaleString('en-US')}/s`.padStart(9);
    out(`webhook intake: ${total.toLocaleString('en-US')} signed events per run, ${concurrency} in flight`);
    out(`  baseline = node:http + constructEvent + pg insert;  route = POST /api/v1/webhooks/stripe (full server)`);
    const ratios: number[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      let baselineSeconds: number;
      let routeSeconds: number;
      if (round % 2 === 1) {
        baselineSeconds = await drive(baseline.url, `base${round}`);
        routeSeconds = await drive(routeUrl, `route${round}`);
      } else {
        routeSeconds = await drive(routeUrl, `route${round}`);
        baselineSeconds = await drive(baseline.url, `base${round}`);
      }
      const ratio = baselineSeconds / routeSeconds;
      ratios.push(ratio);
      out(
        `  round ${round}: baseline ${rate(baselineSeconds)}  route ${rate(routeSeconds)}  ratio ${ratio.toFixed(2)}`,
      );
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    out(
      `  ratio route / baseline: median ${median.toFixed(2)} (min ${sorted[0].toFixed(2)}, max ` +
        `${sorted[sorted.length - 1].toFixed(2)}; target ≥ 0.60) ${median >= 0.6 ? 'MET' : 'NOT MET'}`,
    );
    agent.destroy();
    await baseline.close();
    await server.close();
  } finally {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
    await admin((c) => c.query(`drop database if exists "${name}" with (force)`));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
