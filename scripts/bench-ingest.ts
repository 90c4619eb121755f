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
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { numberFlag, parseCommandLine } from '../src/cli/args';
import { createServer } from '../src/server';
import { mintToken } from '../src/services/customers/auth.service';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { computeInvoiceLines } from '../src/services/invoicing/invoice-lines';
import { parsePeriod } from '../src/services/billing-runs/billing-period';
import { billUsageOnInvoice, billedOnSql } from '../src/services/usage/usage-repository';
import type { Database } from '../src/entities/orm';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { BENCH_OPTIONS, emitRow, ratioOf, rssMb } from './lib/bench-row';

const { flags } = parseCommandLine(process.argv.slice(2), {
  batches: { type: 'string', value: 'N', description: 'batches per run (default 10)' },
  'batch-size': { type: 'string', value: 'N', description: 'events per batch (default 10000)' },
  users: { type: 'string', value: 'N', description: 'distinct users (default 100)' },
  rounds: { type: 'string', value: 'N', description: 'alternating rounds; figures are medians (default 3)' },
  'month-events': {
    type: 'string',
    value: 'N',
    description: 'instead: ingest a month of N events for --users customers and time invoicing them (rollups)',
  },
  ...BENCH_OPTIONS,
});
const smoke = flags.smoke === true;
const arg = (name: string, fallback: number): number => numberFlag(flags, name, fallback);

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const batches = arg('batches', smoke ? 2 : 10);
const batchSize = arg('batch-size', smoke ? 2000 : 10_000);
const users = arg('users', 100);
const rounds = arg('rounds', smoke ? 1 : 3);
const monthEvents = arg('month-events', 0);
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

const load = (): string =>
  execFileSync('uptime', { encoding: 'utf8' })
    .trim()
    .replace(/^.*load average/, 'load');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A month of usage invoiced: `monthEvents` events of January 2024 over `users` customers go in through the service
 * (COPY path, rollups kept), then, per customer, what invoicing does with usage: the preview (`computeInvoiceLines`,
 * read from the rollups), and in one transaction marking the period's events billed on an invoice (rollups rebuilt)
 * and computing that invoice's lines. The baseline in the same run: the preview's aggregation query as it was before
 * the rollups (events priced one by one, grouped per metric and price), through `pg`, without the rest of the
 * preview (catalogue, late periods, pricing in JavaScript), so it flatters the events. Stripe is not
 * called (its pace is the billing run's, measured by the billing-run benchmark).
 */
async function monthBench(db: Database, url: string): Promise<void> {
  const caller = { userId: 'bench', role: Role.SERVICE };
  const period = parsePeriod('2024-01');
  const month = (b: number): ReturnType<typeof events> =>
    Array.from({ length: Math.min(batchSize, monthEvents - b * batchSize) }, (_, j) => {
      const i = b * batchSize + j;
      return {
        userId: `month-user-${i % users}`,
        metric: ['llm_input_tokens', 'llm_output_tokens', 'tool_calls', 'agent_runtime_minutes'][i % 4],
        quantity: i % 4 === 2 ? '1' : String(100 + (i % 900)),
        occurredAt: new Date(Date.UTC(2024, 0, 1) + ((i * 7919) % (31 * 86_400)) * 1000).toISOString(),
        idempotencyKey: `m-${i}`,
        agentId: `agent-${i % 10}`,
      };
    });
  const figure = (label: string, seconds: number, per: string): void => {
    out(`  ${label.padEnd(52)} ${seconds.toFixed(2).padStart(8)} s  ${per}   (${load()})`);
  };
  out(`a month of usage: ${monthEvents.toLocaleString('en-US')} events, ${users.toLocaleString('en-US')} customers`);
  let started = process.hrtime.bigint();
  const since = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  for (let b = 0; b * batchSize < monthEvents; b += 1) {
    await recordUsage(db.orm.em.fork(), caller, month(b), new Date('2024-02-01T00:00:00Z'));
  }
  const ingest = since();
  figure('ingest (recordUsage, batches of ' + batchSize + ')', ingest, `${Math.round(monthEvents / ingest)} events/s`);

  const customers = await withClient(url, async (c) => {
    await c.query('analyze');
    return (await c.query<{ id: string }>(`select id from customers where external_user_id like 'month-user-%'`)).rows;
  });
  started = process.hrtime.bigint();
  await withClient(url, async (c) => {
    for (const { id } of customers) {
      // The preview's aggregation as it was before the rollups (usage-aggregation.ts before them), on the events.
      await c.query(
        `with usage as (
           select ur.metric_id, ur.quantity, ur.occurred_at, p.id as price_id
           from usage_records ur
           left join lateral (
             select p.id from prices p
             where p.metric_id = ur.metric_id and p.currency = 'usd'
               and (p.customer_id = ur.customer_id or p.customer_id is null)
               and p.effective_from <= ur.occurred_at and (p.effective_to is null or ur.occurred_at < p.effective_to)
             order by (p.customer_id is null), p.effective_from desc
             limit 1
           ) p on true
           where ur.customer_id = $1 and ur.occurred_at >= $2 and ur.occurred_at < $3
             and (${billedOnSql('ur')} is null or ${billedOnSql('ur')} in (
               select i.id from invoices i
               where i.customer_id = ur.customer_id and i.period_start = $2 and i.period_end = $3))
         )
         select u.metric_id, u.price_id, sum(u.quantity)::text, count(*)::text, max(u.quantity)::text,
                min(u.occurred_at)
         from usage u group by u.metric_id, u.price_id`,
        [id, period.start, period.end],
      );
    }
  });
  const raw = since();
  figure(
    'baseline: sums per metric from the events',
    raw,
    `${((raw / customers.length) * 1000).toFixed(1)} ms/customer`,
  );

  started = process.hrtime.bigint();
  for (const { id } of customers) {
    await computeInvoiceLines(db.orm.em.fork(), id, 'usd', period);
  }
  const preview = since();
  figure(
    'preview (priced lines from the rollups)',
    preview,
    `${((preview / customers.length) * 1000).toFixed(1)} ms/customer  ×baseline ${(raw / preview).toFixed(2)}`,
  );

  started = process.hrtime.bigint();
  let n = 0;
  for (const { id } of customers) {
    n += 1;
    await db.orm.em.fork().transactional(async (tem) => {
      const [{ id: invoiceId }] = await tem.execute<Array<{ id: string }>>(
        `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency)
         values (gen_random_uuid(), ?, ?, '2024-01', ?, ?, 'DRAFT', 'usd') returning id`,
        [`BENCH-${n}`, id, period.start, period.end],
      );
      await billUsageOnInvoice(tem, { invoiceId, customerId: id, periodStart: period.start, periodEnd: period.end });
      await computeInvoiceLines(tem, id, 'usd', period, invoiceId);
    });
  }
  const invoicing = since();
  figure(
    'invoice usage (bill the events + lines, 1 tx each)',
    invoicing,
    `${((invoicing / customers.length) * 1000).toFixed(1)} ms/customer`,
  );
  out(`  total for the month's invoices (usage side): ${(preview + invoicing).toFixed(1)} s`);
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

    if (monthEvents > 0) {
      await monthBench(db, url.toString());
      await server.close();
      return;
    }
    // Warm-up (creates the customers, so the baseline can resolve them too), not timed.
    await post(events(-1, 'warm'));

    const total = batches * batchSize;
    const caller = { userId: 'bench', role: Role.SERVICE };
    const ways: Array<{ name: string; run: (prefix: string) => Promise<number> }> = [
      { name: 'baseline COPY into usage_records (pg)', run: (prefix) => copyBaseline(url.toString(), prefix) },
      { name: 'baseline multi-row INSERT (pg)', run: (prefix) => insertBaseline(url.toString(), prefix) },
      {
        name: 'recordUsage service, in process',
        run: async (prefix) => {
          const bodies = Array.from({ length: batches }, (_, b) => events(b, prefix));
          const started = process.hrtime.bigint();
          let accepted = 0;
          for (const body of bodies) {
            accepted += (await recordUsage(db.orm.em.fork(), caller, body)).accepted;
          }
          expectAll(accepted);
          return Number(process.hrtime.bigint() - started) / 1e9;
        },
      },
      {
        name: 'POST /api/v1/usage (HTTP, end to end)',
        run: async (prefix) => {
          const bodies = Array.from({ length: batches }, (_, b) => events(b, prefix));
          const started = process.hrtime.bigint();
          let accepted = 0;
          for (const body of bodies) {
            accepted += (await post(body)).accepted;
          }
          expectAll(accepted);
          return Number(process.hrtime.bigint() - started) / 1e9;
        },
      },
    ];
    const expectAll = (accepted: number): void => {
      if (accepted !== total) {
        throw new Error(`expected ${total} accepted, got ${accepted}`);
      }
    };
    const seconds = new Map<string, number[]>(ways.map((w) => [w.name, []]));
    const loads: string[] = [];
    for (let round = 0; round < rounds; round += 1) {
      loads.push(load());
      for (const [i, way] of ways.entries()) {
        seconds.get(way.name)!.push(await way.run(`r${round}-w${i}`));
      }
    }
    loads.push(load());

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
    await withClient(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
