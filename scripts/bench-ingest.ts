/**
 * Batch usage ingestion throughput: events per second through `POST /api/v1/usage` (auth, validation, customer
 * upsert, COPY into a staging table and one set-based insert with the conflict rule) and through the `recordUsage`
 * service called in process (no HTTP), next to baselines in the same run: the same rows written into the same table
 * (same constraints) by `COPY … FROM STDIN` and by a raw multi-row INSERT through `pg`. Rounds alternate the four
 * ways; each figure is the median round. Prints figures, ratios and the machine's load (`uptime`) around each.
 *
 *   npm run bench:ingest -- [--batches 10] [--batch-size 10000] [--users 100] [--rounds 3] [--smoke] [--json]
 *
 * `--smoke`: 2 batches of 2,000 events, one round.
 *
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { createServer } from '../src/server';
import { mintToken } from '../src/services/customers/auth.service';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { BENCH_OPTIONS, emitRow, ratioOf, rssMb } from './lib/bench-row';
import {
  benchCommandLine,
  benchServerUrl,
  loadAverage,
  median,
  runBench,
  withClient,
  withScratchDatabase,
} from './lib/bench-util';

const ABOUT =
  'Batch usage ingestion, events/s: POST /api/v1/usage and recordUsage in process, against COPY and INSERT.';
const { flags, number: arg } = benchCommandLine('npm run bench:ingest', ABOUT, {
  batches: { type: 'string', value: 'N', description: 'batches per run (default 10)' },
  'batch-size': { type: 'string', value: 'N', description: 'events per batch (default 10000)' },
  users: { type: 'string', value: 'N', description: 'distinct users (default 100)' },
  rounds: { type: 'string', value: 'N', description: 'alternating rounds; figures are medians (default 3)' },
  ...BENCH_OPTIONS,
});
const smoke = flags.smoke === true;

const batches = arg('batches', smoke ? 2 : 10);
const batchSize = arg('batch-size', smoke ? 2000 : 10_000);
const users = arg('users', 100);
const rounds = arg('rounds', smoke ? 1 : 3);
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

function events(batch: number, prefix: string) {
  return Array.from({ length: batchSize }, (_, i) => ({
    userId: `bench-user-${i % users}`,
    metric: i % 2 ? 'llm_input_tokens' : 'llm_output_tokens',
    quantity: String(100 + (i % 900)),
    occurredAt: new Date(Date.UTC(2024, 0, 1 + (i % 28), i % 24)).toISOString(),
    idempotencyKey: `${prefix}-${batch}-${i}`,
    agentId: `agent-${i % 10}`,
  }));
}

async function catalogueIds(c: Client): Promise<{ customers: Map<string, string>; metrics: Map<string, string> }> {
  const customers = new Map(
    (await c.query<{ id: string; external_user_id: string }>('select id, external_user_id from customers')).rows.map(
      (r) => [r.external_user_id, r.id],
    ),
  );
  const metrics = new Map(
    (await c.query<{ id: string; code: string }>('select id, code from billable_metrics')).rows.map((r) => [
      r.code,
      r.id,
    ]),
  );
  return { customers, metrics };
}

/**
 * Baseline: the same rows, ids resolved up front, written by plain multi-row INSERTs (max 9,000 rows each; the rows are
 * new, and the partitioned table has no unique key to conflict on: the keys' guard table is left out).
 */
async function insertBaseline(url: string, prefix: string): Promise<number> {
  return withClient(url, async (c) => {
    const { customers, metrics } = await catalogueIds(c);
    const started = process.hrtime.bigint();
    for (let b = 0; b < batches; b += 1) {
      const rows = events(b, prefix);
      for (let offset = 0; offset < rows.length; offset += 9000) {
        const chunk = rows.slice(offset, offset + 9000);
        const values: unknown[] = [];
        const tuples = chunk.map((e, i) => {
          values.push(
            customers.get(e.userId),
            metrics.get(e.metric),
            e.quantity,
            e.occurredAt,
            e.idempotencyKey,
            e.agentId,
          );
          const p = i * 6;
          return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6})`;
        });
        await c.query(
          `insert into usage_records (customer_id, metric_id, quantity, occurred_at, idempotency_key, agent_id)
           values ${tuples.join(', ')}`,
          values,
        );
      }
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  });
}

/**
 * Baseline the target is set against: the same rows, ids resolved up front, one `COPY … FROM STDIN` per batch straight
 * into `usage_records` (its indexes in place) and of the keys into `usage_idempotency_keys` (the unique key, kept
 * apart from the month-partitioned events); COPY cannot skip duplicates, so the keys are fresh.
 */
async function copyBaseline(url: string, prefix: string): Promise<number> {
  return withClient(url, async (c) => {
    const { customers, metrics } = await catalogueIds(c);
    const started = process.hrtime.bigint();
    for (let b = 0; b < batches; b += 1) {
      const rows = events(b, prefix);
      const keys = rows.map((e) => `${customers.get(e.userId)}\t${e.idempotencyKey}\n`).join('');
      const text = rows
        .map(
          (e) =>
            `${customers.get(e.userId)}\t${metrics.get(e.metric)}\t${e.quantity}\t${e.occurredAt}\t` +
            `${e.idempotencyKey}\t${e.agentId}\n`,
        )
        .join('');
      await pipeline(
        Readable.from([Buffer.from(text)]),
        c.query(
          copyFrom(
            'copy usage_records (customer_id, metric_id, quantity, occurred_at, idempotency_key, agent_id) from stdin',
          ),
        ),
      );
      await pipeline(
        Readable.from([Buffer.from(keys)]),
        c.query(copyFrom('copy usage_idempotency_keys (customer_id, idempotency_key) from stdin')),
      );
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  });
}

async function main(): Promise<void> {
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await withScratchDatabase(benchServerUrl(), name, async (url) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
    const secret = randomUUID() + randomUUID();
    const db = await openDatabase({ databaseUrl: url });
    try {
      await migrate(db.orm);
      await seedDefaultCatalogue(db.orm.em.fork());
      const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: secret, DATA_DIR: dataDir });
      const server = await createServer({ config, db });
      const base = await server.listen(0, '127.0.0.1');
      const token = await mintToken(secret, { sub: 'bench', role: Role.SERVICE });
      const post = async (body: unknown): Promise<{ accepted: number }> => {
        const res = await fetch(`${base}/api/v1/usage`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
        if (res.status !== 200) {
          throw new Error(`HTTP ${res.status}: ${await res.text()}`);
        }
        return (await res.json()) as { accepted: number };
      };

      // Warm-up (creates the customers, so the baseline can resolve them too), not timed.
      await post(events(-1, 'warm'));

      const total = batches * batchSize;
      const caller = { userId: 'bench', role: Role.SERVICE };
      // Seconds to send every batch of a round one after another through `send`, all of them accepted.
      const timed =
        (send: (body: ReturnType<typeof events>) => Promise<{ accepted: number }>) =>
        async (prefix: string): Promise<number> => {
          const bodies = Array.from({ length: batches }, (_, b) => events(b, prefix));
          const started = process.hrtime.bigint();
          let accepted = 0;
          for (const body of bodies) {
            accepted += (await send(body)).accepted;
          }
          expectAll(accepted);
          return Number(process.hrtime.bigint() - started) / 1e9;
        };
      const ways: Array<{ name: string; run: (prefix: string) => Promise<number> }> = [
        { name: 'baseline COPY into usage_records (pg)', run: (prefix) => copyBaseline(url, prefix) },
        { name: 'baseline multi-row INSERT (pg)', run: (prefix) => insertBaseline(url, prefix) },
        {
          name: 'recordUsage service, in process',
          run: timed((body) => recordUsage(db.orm.em.fork(), caller, body)),
        },
        { name: 'POST /api/v1/usage (HTTP, end to end)', run: timed(post) },
      ];
      const expectAll = (accepted: number): void => {
        if (accepted !== total) {
          throw new Error(`expected ${total} accepted, got ${accepted}`);
        }
      };
      const seconds = new Map<string, number[]>(ways.map((w) => [w.name, []]));
      const loads: string[] = [];
      for (let round = 0; round < rounds; round += 1) {
        loads.push(`load ${loadAverage()}`);
        for (const [i, way] of ways.entries()) {
          seconds.get(way.name)!.push(await way.run(`r${round}-w${i}`));
        }
      }
      loads.push(`load ${loadAverage()}`);

      const rate = (s: number): string => `${Math.round(total / s).toLocaleString('en-US')} events/s`;
      const copySeconds = median(seconds.get(ways[0].name)!);
      const insertSeconds = median(seconds.get(ways[1].name)!);
      out(
        `usage ingestion: ${batches} batches × ${batchSize.toLocaleString('en-US')} events, ${users} customers, ` +
          `median of ${rounds} alternating rounds`,
      );
      out(`  machine: ${loads.join(' → ')}`);
      for (const way of ways) {
        const s = median(seconds.get(way.name)!);
        out(
          `  ${way.name.padEnd(40)} ${s.toFixed(2).padStart(6)} s  ${rate(s).padStart(16)}  ` +
            `×COPY ${(copySeconds / s).toFixed(2)}  ×INSERT ${(insertSeconds / s).toFixed(2)}`,
        );
      }
      // Rows (scripts/lib/bench-row.ts): the two ways of the server against COPY, the baseline the target is set on.
      const perSecond = (s: number): number => Math.round(total / s);
      for (const way of ways.slice(2)) {
        const s = median(seconds.get(way.name)!);
        emitRow(flags.json === true, {
          bench: 'ingest',
          path: `usage: ${way.name}, batches of ${batchSize.toLocaleString('en-US')}`,
          figure: perSecond(s),
          unit: 'events/s',
          baseline: ways[0].name,
          baselineFigure: perSecond(copySeconds),
          ratio: ratioOf(perSecond(s), perSecond(copySeconds)),
          target: way === ways[3] ? '≥ 0.50×' : null,
          rssMb: rssMb(),
        });
      }
      await server.close();
    } finally {
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

runBench(main);
