/**
 * Webhook apply throughput: a burst of stored Stripe events drained by the webhook worker (claim with SKIP LOCKED,
 * each event's handler in a savepoint, the done marks) with several workers sharing the backlog, next to a baseline
 * in the same run: the same burst drained by the least a queue consumer does (claim a batch with SKIP LOCKED and mark
 * it done in one statement, no handler).
 *
 *   npm run bench:webhook-apply -- [--events 10000] [--workers 3] [--batch-size 100]
 *
 * Events are `invoice.updated` about 2,500 Stripe invoices this database does not know (the handler looks the invoice
 * up and ignores the event): the worker's own cost per event, not a handler's. Each worker has its own connection
 * pool, as an instance would; they share this process's event loop. Uses a fresh database on BENCH_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { numberFlag, parseCommandLine } from '../src/cli/args';
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/config/logger';
import { systemClock } from '../src/config/clock';
import { migrate, openDatabase, type Database } from '../src/entities/orm';
import { storeStripeEvent } from '../src/services/stripe-events/webhook-event-store';
import { toEventRecord } from '../src/stripe';
import { DISPATCH_TABLE } from '../src/webhooks/dispatch-table';
import { resolveWebhookOptions } from '../src/webhooks/webhook-options';
import { WebhookWorker } from '../src/webhooks/webhook-worker';

export interface ApplyBenchResult {
  events: number;
  workers: number;
  /** Seconds the worker took to drain the burst, and the baseline. */
  workerSeconds: number;
  baselineSeconds: number;
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

function eventJson(prefix: string, i: number, created: number): string {
  return JSON.stringify({
    id: `evt_${prefix}_${i}`,
    object: 'event',
    api_version: '2026-10-28.endive',
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'invoice.updated',
    data: { object: { id: `in_${prefix}_${i % 2500}`, object: 'invoice', status: 'open', metadata: {} } },
  });
}

function record(json: string): ReturnType<typeof toEventRecord> {
  return toEventRecord(JSON.parse(json) as Parameters<typeof toEventRecord>[0], json);
}

async function storeBurst(db: Database, prefix: string, events: number): Promise<void> {
  const created = Math.floor(Date.now() / 1000);
  for (let i = 0; i < events; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, events - i) }, (_, j) =>
        storeStripeEvent(db.orm.em.fork(), record(eventJson(prefix, i + j, created))),
      ),
    );
  }
}

async function pending(url: string, prefix: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ n: string }>(
      `select count(*) as n from webhook_events where status = 'pending' and id like $1`,
      [`evt_${prefix}_%`],
    );
    return Number(rows[0].n);
  });
}

/** The least a consumer does: claim a batch (SKIP LOCKED), mark it done, commit; `workers` of them at once. */
async function baselineDrain(url: string, workers: number, batchSize: number): Promise<void> {
  await Promise.all(
    Array.from({ length: workers }, () =>
      withClient(url, async (c) => {
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
    ),
  );
}

export async function benchWebhookApply(options: {
  events: number;
  workers: number;
  batchSize: number;
  serverUrl?: string;
}): Promise<ApplyBenchResult> {
  const serverUrl =
    options.serverUrl ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const dbs: Database[] = [];
  try {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: url.toString() });
    const main = await openDatabase({ databaseUrl: url.toString() });
    dbs.push(main);
    await migrate(main.orm);
    const log = createLogger(config);
    const webhookOptions = resolveWebhookOptions(config, { batchSize: options.batchSize, workerEnabled: true });

    // The baseline first, on a burst of its own, then the worker's.
    await storeBurst(main, 'base', options.events);
    let started = process.hrtime.bigint();
    await baselineDrain(url.toString(), options.workers, options.batchSize);
    const baselineSeconds = Number(process.hrtime.bigint() - started) / 1e9;

    await storeBurst(main, 'work', options.events);
    const workers: WebhookWorker[] = [];
    for (let w = 0; w < options.workers; w++) {
      const db = w === 0 ? main : await openDatabase({ databaseUrl: url.toString() });
      if (w > 0) {
        dbs.push(db);
      }
      workers.push(new WebhookWorker(db, DISPATCH_TABLE, webhookOptions, log, systemClock));
    }
    started = process.hrtime.bigint();
    for (const worker of workers) {
      worker.start();
    }
    while ((await pending(url.toString(), 'work')) > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const workerSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    await Promise.all(workers.map((worker) => worker.stop()));
    return { events: options.events, workers: options.workers, workerSeconds, baselineSeconds };
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
    await withClient(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
  }
}

export function describeApplyResult(r: ApplyBenchResult): string {
  const rate = (s: number): string => `${Math.round(r.events / s).toLocaleString('en-US')} events/s`;
  return (
    `webhook apply, burst of ${r.events.toLocaleString('en-US')} events, ${r.workers} workers: ` +
    `worker ${r.workerSeconds.toFixed(2)} s (${rate(r.workerSeconds)}), baseline claim+mark ` +
    `${r.baselineSeconds.toFixed(2)} s (${rate(r.baselineSeconds)}), ratio ${(r.baselineSeconds / r.workerSeconds).toFixed(2)}`
  );
}

if (require.main === module) {
  const { flags } = parseCommandLine(process.argv.slice(2), {
    events: { type: 'string', value: 'N', description: 'events in the burst (default 10000)' },
    workers: { type: 'string', value: 'N', description: 'workers sharing it (default 3)' },
    'batch-size': { type: 'string', value: 'N', description: 'events claimed per transaction (default 100)' },
  });
  benchWebhookApply({
    events: numberFlag(flags, 'events', 10_000),
    workers: numberFlag(flags, 'workers', 3),
    batchSize: numberFlag(flags, 'batch-size', 100),
  })
    .then((result) => process.stdout.write(`${describeApplyResult(result)}\n`))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
