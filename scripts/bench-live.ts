/**
 * The live payment-status feed at scale: for 1,000 and 10,000 `paymentStatusChanged` subscribers on one instance,
 * (a) all watching everything, (b) each watching one invoice, it measures commit → last delivery (p50/p99/max over
 * the changes made), `/healthz` latency during the fan-out, and the server's RSS per 1,000 idle subscribers, and
 * prints each figure against its target.
 *
 *   npm run bench:live -- [--subscribers 1000,10000] [--changes 20] [--sockets 20] [--smoke] [--json]
 *
 * `--smoke`: 200 subscribers all watching everything, 5 changes, 5 sockets.
 *
 * The server runs in a child process (this script with `--serve`), so its RSS and `/healthz` are its own; the
 * subscribers share `--sockets` WebSocket connections (graphql-ws multiplexes subscriptions), each authenticated as
 * its own admin. Server variables in this script's environment (e.g. raised per-connection or per-user
 * subscription limits) reach the server's configuration. `/healthz` is probed from a worker thread, so the client's
 * own work does not inflate it. Changes are committed through `transitionInvoice` from this process.
 *
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/config';
import { Invoice } from '../src/entities';
import { InvoiceStatus, Role, StatusChangeSource } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import type { Database } from '../src/entities/orm';
import { createServer } from '../src/server';
import { mintToken } from '../src/services/customers/auth.service';
import { transitionInvoice } from '../src/services/invoicing/invoice-status';
import { BENCH_OPTIONS, emitRow } from './lib/bench-row';
import { benchCommandLine, benchServerUrl, runBench, withScratchDatabase } from './lib/bench-util';

const ABOUT =
  'The live payment-status feed at scale: commit → last delivery, /healthz during the fan-out, RSS per subscriber.';
const { flags, number, numbers } = benchCommandLine('npm run bench:live', ABOUT, {
  serve: { type: 'boolean', description: 'internal: run the server (child process)' },
  subscribers: { type: 'string', value: 'N,N', description: 'subscriber counts (default 1000,10000)' },
  changes: { type: 'string', value: 'N', description: 'changes per scenario (default 20)' },
  sockets: { type: 'string', value: 'N', description: 'WebSocket connections the subscribers share (default 20)' },
  ...BENCH_OPTIONS,
});
const smoke = flags.smoke === true;
const JWT_SECRET = process.env.BENCH_JWT_SECRET ?? `bench-${randomUUID()}${randomUUID()}`;
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

const TARGETS = { oneP99Ms: 50, allP99Ms: 500, healthzMaxMs: 50, kbPerSubscriber: 20 };
const SUBSCRIPTION = `subscription Bench($invoiceId: ID) {
  paymentStatusChanged(invoiceId: $invoiceId) {
    changeId status previousStatus reason occurredAt
    invoice { id number status amount { formatted } amountPaid { formatted } }
  }
}`;

// ---------------------------------------------------------------------------------------------- the server (child)

type ToServer = { kind: 'rss' } | { kind: 'feeds' } | { kind: 'stop' };

async function serve(): Promise<void> {
  const db = await openDatabase({ databaseUrl: process.env.BENCH_DB as string });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-live-'));
  const config = loadConfig({
    // Thousands of subscriptions share --sockets connections and a few admins: the per-connection and per-user caps
    // (50 and 200 by default) are raised for the bench unless the environment sets them.
    SUBSCRIPTION_MAX_PER_CONNECTION: '10000',
    SUBSCRIPTION_MAX_PER_USER: '10000',
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET,
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_API_BASE: 'http://127.0.0.1:9',
    STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
    DATA_DIR: dataDir,
  });
  const server = await createServer({ config, db });
  const url = await server.listen(0, '127.0.0.1');
  const send = (message: unknown): void => void process.send?.(message);
  process.on('message', (message: ToServer) => {
    if (message.kind === 'rss') {
      (globalThis as { gc?: () => void }).gc?.();
      send({ kind: 'rss', rss: process.memoryUsage().rss });
    } else if (message.kind === 'feeds') {
      send({ kind: 'feeds', feeds: server.statusFeeds() });
    } else {
      void server
        .close()
        .then(() => db.close())
        .finally(() => {
          rmSync(dataDir, { recursive: true, force: true });
          process.exit(0);
        });
    }
  });
  send({ kind: 'ready', url });
}

class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(databaseUrl: string): Promise<ServerProcess> {
    const child = fork(__filename, ['--serve'], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, BENCH_DB: databaseUrl, BENCH_JWT_SECRET: JWT_SECRET },
    });
    const ready = await new Promise<{ url: string }>((resolve, reject) => {
      child.once('message', (message) => resolve(message as { url: string }));
      child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
    });
    return new ServerProcess(child, ready.url);
  }

  ask<T>(kind: 'rss' | 'feeds'): Promise<T> {
    return new Promise((resolve) => {
      const onMessage = (message: { kind: string } & Record<string, unknown>): void => {
        if (message.kind === kind) {
          this.child.off('message', onMessage);
          resolve(message[kind] as T);
        }
      };
      this.child.on('message', onMessage);
      this.child.send({ kind });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.send({ kind: 'stop' });
    });
  }
}

// -------------------------------------------------------------------------------------------------- the client

/** Subscriptions over raw graphql-ws frames (lighter than the client library: the server, not us, is measured). */
class Sockets {
  private readonly sockets: WebSocket[] = [];
  /** Called with each `next` frame's text. */
  onEvent: (text: string) => void = () => undefined;

  static async open(url: string, count: number): Promise<Sockets> {
    const sockets = new Sockets();
    for (let i = 0; i < count; i += 1) {
      const token = await mintToken(JWT_SECRET, { sub: `bench-admin-${i}`, role: Role.ADMIN, expiresIn: '6h' });
      const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('open', () =>
          socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
        );
        socket.once('message', () => resolve());
      });
      socket.on('message', (data) => {
        const text = data.toString();
        if (text.startsWith('{"id"') || text.includes('"type":"next"')) {
          sockets.onEvent(text);
        } else if (text.includes('"type":"error"')) {
          process.stderr.write(`subscription refused: ${text}\n`);
        }
      });
      socket.on('close', (code, reason) => {
        if (code !== 1000) {
          process.stderr.write(`socket closed ${code} ${reason.toString()}\n`);
        }
      });
      sockets.sockets.push(socket);
    }
    return sockets;
  }

  subscribe(index: number, variables: Record<string, unknown>): void {
    const socket = this.sockets[index % this.sockets.length];
    socket.send(JSON.stringify({ id: `s${index}`, type: 'subscribe', payload: { query: SUBSCRIPTION, variables } }));
  }

  close(): void {
    this.sockets.forEach((socket) => socket.close(1000));
  }
}

/** Probes `/healthz` back to back from its own thread until told to stop; answers with the latencies. */
function startHealthProbe(url: string): { stop(): Promise<number[]> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const http = require('node:http');
     const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
     const latencies = []; let running = true;
     parentPort.on('message', () => { running = false; });
     (async () => {
       while (running) {
         const started = performance.now();
         await new Promise((resolve) => http.get(workerData + '/healthz', { agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', resolve));
         latencies.push(performance.now() - started);
         await new Promise((resolve) => setTimeout(resolve, 2));
       }
       parentPort.postMessage(latencies);
     })();`,
    { eval: true, workerData: url },
  );
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once('message', (latencies: number[]) => void worker.terminate().then(() => resolve(latencies)));
        worker.postMessage('stop');
      }),
  };
}

// --------------------------------------------------------------------------------------------------- the figures

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN;
}
const ms = (value: number): string => `${value.toFixed(1)} ms`;
const verdict = (ok: boolean): string => (ok ? 'MET' : 'NOT MET');

async function seed(db: Database, count: number): Promise<string[]> {
  const rows = await db.orm.em.fork().execute<Array<{ id: string }>>(
    `with c as (
       insert into customers (id, external_user_id)
       select gen_random_uuid(), 'bench-user-' || n from generate_series(1, ?) n returning id, external_user_id)
     insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency, total_minor,
                           subtotal_minor)
     select gen_random_uuid(), 'BENCH-' || c.external_user_id, c.id, '2024-01', '2024-01-01', '2024-02-01', 'OPEN',
            'usd', 12345, 12345 from c
     returning id`,
    [count],
  );
  return rows.map((row) => row.id);
}

/** Commits one change and resolves with the time just before COMMIT went out. */
async function commitChange(db: Database, invoiceId: string, reason: string): Promise<number> {
  let at = 0;
  await db.orm.em.fork().transactional(async (em) => {
    const invoice = await em.findOneOrFail(Invoice, invoiceId);
    const to = invoice.status === InvoiceStatus.PROCESSING ? InvoiceStatus.PAYMENT_FAILED : InvoiceStatus.PROCESSING;
    await transitionInvoice(em, invoice, to, { source: StatusChangeSource.API, reason });
    at = performance.now();
  });
  return at;
}

interface Scenario {
  name: string;
  latencies: number[];
  healthz: number[];
  kbPerSubscriber: number;
  subscribeSeconds: number;
  /** The server's RSS with every subscriber idle, in MB. */
  rssMb: number;
}

async function scenario(
  db: Database,
  invoices: string[],
  subscribers: number,
  mode: 'all' | 'one',
  changes: number,
  sockets: number,
): Promise<Scenario> {
  const server = await ServerProcess.start(process.env.BENCH_DB as string);
  const client = await Sockets.open(server.url, sockets);
  try {
    const rssBefore = await server.ask<number>('rss');
    const started = performance.now();
    for (let i = 0; i < subscribers; i += 1) {
      client.subscribe(i, mode === 'all' ? {} : { invoiceId: invoices[i] });
      if (i % 500 === 499) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    while ((await server.ask<number>('feeds')) < subscribers) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const subscribeSeconds = (performance.now() - started) / 1000;
    const rssIdle = await server.ask<number>('rss');

    const expected = mode === 'all' ? subscribers : 1;
    const latencies: number[] = [];
    const probe = startHealthProbe(server.url);
    for (let k = 0; k < changes; k += 1) {
      const reason = `bench-${mode}-${k}`;
      const marker = `"reason":"${reason}"`;
      let received = 0;
      let last = 0;
      const all = new Promise<void>((resolve) => {
        client.onEvent = (text) => {
          if (text.includes(marker)) {
            received += 1;
            last = performance.now();
            if (received === expected) {
              resolve();
            }
          }
        };
      });
      const invoiceId =
        mode === 'all' ? invoices[k % invoices.length] : invoices[Math.floor(Math.random() * subscribers)];
      const committedAt = await commitChange(db, invoiceId, reason);
      await all;
      latencies.push(last - committedAt);
    }
    const healthz = await probe.stop();
    return {
      name: `${subscribers} subscribers, ${mode === 'all' ? 'all watching everything' : 'each watching one invoice'}`,
      latencies,
      healthz,
      kbPerSubscriber: (rssIdle - rssBefore) / 1024 / subscribers,
      subscribeSeconds,
      rssMb: Math.round(rssIdle / 104857.6) / 10,
    };
  } finally {
    client.close();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const counts = numbers('subscribers', smoke ? [200] : [1000, 10_000]);
  const changes = number('changes', smoke ? 5 : 20);
  const sockets = number('sockets', smoke ? 5 : 20);
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await withScratchDatabase(benchServerUrl(), name, async (url) => {
    process.env.BENCH_DB = url;
    const db = await openDatabase({ databaseUrl: url });
    try {
      await migrate(db.orm);
      const invoices = await seed(db, Math.max(...counts));
      out(`bench:live — ${changes} changes per scenario, subscribers on ${sockets} WebSocket connections`);
      for (const subscribers of counts) {
        for (const mode of smoke ? (['all'] as const) : (['one', 'all'] as const)) {
          const result = await scenario(db, invoices, subscribers, mode, changes, sockets);
          const p99 = quantile(result.latencies, 0.99);
          const target = mode === 'all' ? TARGETS.allP99Ms : TARGETS.oneP99Ms;
          const healthMax = Math.max(...result.healthz);
          out(`\n${result.name}`);
          out(
            `  commit → last delivery  p50 ${ms(quantile(result.latencies, 0.5))}  p99 ${ms(p99)}  max ${ms(Math.max(...result.latencies))}` +
              (subscribers >= 10_000 ? `   target p99 ≤ ${target} ms: ${verdict(p99 <= target)}` : ''),
          );
          out(
            `  /healthz during fan-out p50 ${ms(quantile(result.healthz, 0.5))}  p99 ${ms(quantile(result.healthz, 0.99))}  max ${ms(healthMax)}  (${result.healthz.length} probes)   target ≤ ${TARGETS.healthzMaxMs} ms: ${verdict(healthMax <= TARGETS.healthzMaxMs)}`,
          );
          out(
            `  idle RSS ${((result.kbPerSubscriber * 1000) / 1024).toFixed(1)} MB per 1,000 subscribers (${result.kbPerSubscriber.toFixed(1)} KB each)   target ≤ ${TARGETS.kbPerSubscriber} KB: ${verdict(result.kbPerSubscriber <= TARGETS.kbPerSubscriber)}`,
          );
          out(`  subscribing all took ${result.subscribeSeconds.toFixed(2)} s`);
          const row = { bench: 'live', baseline: null, baselineFigure: null, ratio: null, rssMb: result.rssMb };
          const fixed1 = (value: number): number => Math.round(value * 10) / 10;
          emitRow(flags.json === true, {
            ...row,
            path: `${result.name}: commit → last delivery, p99`,
            figure: fixed1(p99),
            unit: 'ms',
            target: subscribers >= 10_000 ? `≤ ${target} ms` : null,
          });
          emitRow(flags.json === true, {
            ...row,
            path: `${result.name}: /healthz during the fan-out, max`,
            figure: fixed1(healthMax),
            unit: 'ms',
            target: `≤ ${TARGETS.healthzMaxMs} ms`,
          });
          emitRow(flags.json === true, {
            ...row,
            path: `${result.name}: server RSS per idle subscriber`,
            figure: fixed1(result.kbPerSubscriber),
            unit: 'KB',
            target: `≤ ${TARGETS.kbPerSubscriber} KB`,
          });
        }
      }
    } finally {
      await db.close();
    }
  });
}

runBench(flags.serve ? serve : main);
