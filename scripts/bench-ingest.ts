/**
 * Batch usage ingestion throughput: events per second through `POST /api/v1/usage` (auth, validation, customer
 * upsert, set-based insert with conflict handling), next to a baseline in the same run: the same rows written by a
 * raw multi-row INSERT through `pg`. Prints both figures and their ratio.
 *
 *   npm run bench:ingest -- [--batches 10] [--batch-size 10000] [--users 100]
 *
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { numberFlag, parseCommandLine } from '../src/cli/args';
import { createServer } from '../src/server';
import { mintToken } from '../src/services/customers/auth.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';

const { flags } = parseCommandLine(process.argv.slice(2), {
  batches: { type: 'string', value: 'N', description: 'batches per run (default 10)' },
  'batch-size': { type: 'string', value: 'N', description: 'events per batch (default 10000)' },
  users: { type: 'string', value: 'N', description: 'distinct users (default 100)' },
});
const arg = (name: string, fallback: number): number => numberFlag(flags, name, fallback);

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const batches = arg('batches', 10);
const batchSize = arg('batch-size', 10_000);
const users = arg('users', 100);
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

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

/** The baseline: the same rows, ids resolved up front, written by plain multi-row INSERTs (max 9,000 rows each). */
async function baseline(url: string): Promise<number> {
  return withClient(url, async (c) => {
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
    const started = process.hrtime.bigint();
    for (let b = 0; b < batches; b += 1) {
      const rows = events(b, 'raw');
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
           values ${tuples.join(', ')} on conflict (customer_id, idempotency_key) do nothing`,
          values,
        );
      }
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  });
}

async function main(): Promise<void> {
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
  const secret = randomUUID() + randomUUID();
  const db = await openDatabase({ databaseUrl: url.toString() });
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
    const baselineSeconds = await baseline(url.toString());
    const bodies = Array.from({ length: batches }, (_, b) => events(b, 'http'));
    const started = process.hrtime.bigint();
    let accepted = 0;
    for (const body of bodies) {
      accepted += (await post(body)).accepted;
    }
    const httpSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (accepted !== total) {
      throw new Error(`expected ${total} accepted, got ${accepted}`);
    }

    const rate = (s: number): string => `${Math.round(total / s).toLocaleString('en-US')} events/s`;
    out(`usage ingestion: ${batches} batches × ${batchSize.toLocaleString('en-US')} events, ${users} customers`);
    out(`  baseline raw multi-row INSERT (pg):   ${baselineSeconds.toFixed(2)} s  ${rate(baselineSeconds)}`);
    out(`  POST /api/v1/usage (HTTP, end to end): ${httpSeconds.toFixed(2)} s  ${rate(httpSeconds)}`);
    out(`  ratio HTTP / baseline: ${(baselineSeconds / httpSeconds).toFixed(2)}`);
    await server.close();
  } finally {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
    await withClient(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
