/**
 * Pages of invoices per second through `invoices(first: N)` with lines and status history (POST /graphql, the full
 * server: Express, Apollo Server, authentication, the service, the GraphQL mapping), next to a baseline in the same
 * process: a bare `node:http` server that checks the same token and answers the same JSON from hand-written SQL
 * through `pg`. Before measuring, both answers are compared (parsed, deeply) for every page size, so the baseline
 * really does the same work. Prints both rates and the ratio (target: the server at ≥ 50 % of the baseline for a
 * page of 50).
 *
 *   npm run bench:page -- [--seconds 3] [--concurrency 8] [--rounds 5] [--invoices 120] [--smoke] [--json]
 *
 * `--smoke`: one round of half a second, a page of 50 only, 60 invoices.
 *
 * Client and both servers share one event loop (like is compared with like); rounds alternate which side goes
 * first, and the verdict is the median round's ratio, with every round printed.
 *
 * Uses a fresh database on BENCH_DATABASE_URL (else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres),
 * dropped after.
 */
import { deepStrictEqual } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jwtVerify } from 'jose';
import { Pool, types } from 'pg';
import { loadConfig } from '../src/config/config';
import { currencyExponent } from '../src/config/currencies';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { mintToken } from '../src/services/customers/auth.service';
import { createServer } from '../src/server';
import { BENCH_OPTIONS, emitRow, rssMb } from './lib/bench-row';
import { benchCommandLine, postJson, runBench, withScratchDatabase } from './lib/bench-util';

const ABOUT =
  'Pages of invoices per second through invoices(first: N), next to a bare node:http + pg baseline in the same process.';
const { flags, number: arg } = benchCommandLine('npm run bench:page', ABOUT, {
  seconds: { type: 'string', value: 'N', description: 'seconds per measurement (default 3)' },
  concurrency: { type: 'string', value: 'N', description: 'clients, each one request in flight (default 8)' },
  rounds: { type: 'string', value: 'N', description: 'alternating rounds per page size (default 5)' },
  invoices: { type: 'string', value: 'N', description: 'invoices of the reading user (default 120)' },
  ...BENCH_OPTIONS,
});
const smoke = flags.smoke === true;

const serverUrl =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = arg('seconds', smoke ? 0.5 : 3);
const concurrency = arg('concurrency', 8);
const rounds = Math.max(1, arg('rounds', smoke ? 1 : 5));
const invoiceCount = Math.max(60, arg('invoices', smoke ? 60 : 120));
const jwtSecret = randomUUID() + randomUUID();
const READER = 'bench-reader';
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

const QUERY = `query Page($first: Int!) {
  invoices(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id number userId status period
        amount { amountMinor currency amount formatted }
        amountPaid { amountMinor currency amount formatted }
        amountRemaining { amountMinor currency amount formatted }
        dueDate paymentUrl pdfUrl isPaid voidReason createdAt paidAt
        lines { id kind metric description quantity unitAmount amount { amountMinor currency amount formatted } }
        statusHistory { from to source reason occurredAt }
      }
    }
  }
}`;

// --- Seed ----------------------------------------------------------------------------------------------------------

/**
 * The reading user's invoices (one per month, newest first), 3 to 9 lines each over a few metrics, 2 or 3 status
 * changes each; some paid, some void. Another user's invoices sit beside them, so the access filter has work to do.
 */
async function seed(pool: Pool): Promise<void> {
  const metrics: string[] = [];
  for (const [code, unit] of [
    ['llm_tokens', 'token'],
    ['agent_runs', 'run'],
    ['storage_gb_hours', 'GB-hour'],
    ['tool_calls', 'call'],
  ]) {
    const { rows } = await pool.query<{ id: string }>(
      `insert into billable_metrics (id, code, name, unit) values (gen_random_uuid(), $1, $1, $2) returning id`,
      [code, unit],
    );
    metrics.push(rows[0].id);
  }
  for (const [user, count] of [
    [READER, invoiceCount],
    ['bench-other', invoiceCount],
  ] as const) {
    const { rows } = await pool.query<{ id: string }>(
      `insert into customers (id, external_user_id) values (gen_random_uuid(), $1) returning id`,
      [user],
    );
    const customerId = rows[0].id;
    for (let i = 0; i < count; i += 1) {
      const start = new Date(Date.UTC(2015, i, 1));
      const end = new Date(Date.UTC(2015, i + 1, 1));
      const period = start.toISOString().slice(0, 7);
      const status = i % 7 === 3 ? 'VOID' : i % 3 === 0 ? 'OPEN' : 'PAID';
      const lineCount = 3 + (i % 7);
      const lineAmounts = Array.from({ length: lineCount }, (_, k) => BigInt(((i + 1) * 7919 + k * 104729) % 250000));
      const total = lineAmounts.reduce((a, b) => a + b, 0n);
      const id = randomUUID();
      await pool.query(
        `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency,
                               subtotal_minor, total_minor, amount_paid_minor, due_date, payment_url, pdf_url,
                               void_reason, created_at, paid_at, sent_at)
         values ($1, $2, $3, $4, $5, $6, $7, 'usd', $8, $8, $9, $10, $11, $12, $13, $14, $15, $14)`,
        [
          id,
          `AH-${period}-${String(i + 1).padStart(6, '0')}-${user === READER ? 'R' : 'O'}`,
          customerId,
          period,
          start,
          end,
          status,
          total.toString(),
          status === 'PAID' ? total.toString() : '0',
          new Date(end.getTime() + 30 * 86_400_000),
          status === 'VOID' ? null : `https://invoice.stripe.com/i/acct_bench/${id}`,
          status === 'VOID' ? null : `https://pay.stripe.com/invoice/acct_bench/${id}/pdf`,
          status === 'VOID' ? 'Issued in error' : null,
          new Date(end.getTime() + 3_600_000 + 123),
          status === 'PAID' ? new Date(end.getTime() + 5 * 86_400_000 + 456) : null,
        ],
      );
      for (let k = 0; k < lineCount; k += 1) {
        const adjustment = k === lineCount - 1 && i % 5 === 0;
        await pool.query(
          `insert into invoice_lines (id, invoice_id, position, kind, metric_id, description, quantity, unit_amount,
                                      amount_minor, currency)
           values (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, 'usd')`,
          [
            id,
            k,
            adjustment ? 'adjustment' : 'usage',
            adjustment ? null : metrics[k % metrics.length],
            adjustment ? 'Credit: goodwill' : `Usage ${k + 1}: ${period}`,
            adjustment ? '1' : `${(i + 1) * 1000 + k}.${k % 3 === 0 ? '5' : '25'}`,
            adjustment ? null : '0.000002',
            lineAmounts[k].toString(),
          ],
        );
      }
      const created = new Date(end.getTime() + 3_600_000);
      const changes: Array<[string | null, string, string, string | null]> = [
        [null, 'DRAFT', 'BILLING_RUN', null],
        ['DRAFT', 'OPEN', 'BILLING_RUN', null],
      ];
      if (status !== 'OPEN') {
        changes.push([
          'OPEN',
          status,
          status === 'PAID' ? 'WEBHOOK' : 'API',
          status === 'VOID' ? 'Issued in error' : null,
        ]);
      }
      for (const [k, [from, to, source, reason]] of changes.entries()) {
        await pool.query(
          `insert into invoice_status_changes (invoice_id, from_status, to_status, source, reason, occurred_at)
           values ($1, $2, $3, $4, $5, $6)`,
          [id, from, to, source, reason, new Date(created.getTime() + k * 60_000 + 789)],
        );
      }
    }
  }
}

// --- The baseline: hand-written SQL and JSON -------------------------------------------------------------------------

// The baseline reads bigint columns as exact strings (pg's default) and converts them itself.
types.setTypeParser(types.builtins.INT8, (value: string) => value);

const formatters = new Map<string, Intl.NumberFormat>();

function money(minorText: string, currency: string) {
  const minor = BigInt(minorText);
  const exponent = currencyExponent(currency);
  const digits = (minor < 0n ? -minor : minor).toString().padStart(exponent + 1, '0');
  const amount =
    (minor < 0n ? '-' : '') + (exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`);
  let formatter = formatters.get(currency);
  if (!formatter) {
    formatter = new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency: currency.toUpperCase(),
      minimumFractionDigits: exponent,
      maximumFractionDigits: exponent,
    });
    formatters.set(currency, formatter);
  }
  return {
    amountMinor: Number(minor),
    currency,
    amount,
    formatted: formatter.format(amount as unknown as number),
  };
}

const trim = (value: string | null): string | null =>
  value === null ? null : value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

interface PageRow {
  id: string;
  number: string;
  user_id: string;
  status: string;
  period: string;
  currency: string;
  total_minor: string;
  amount_paid_minor: string;
  due_date: Date | null;
  payment_url: string | null;
  pdf_url: string | null;
  void_reason: string | null;
  created_at: Date;
  paid_at: Date | null;
}

async function baselinePage(pool: Pool, userId: string, first: number): Promise<string> {
  const [count, page] = await Promise.all([
    pool.query<{ n: string }>(
      `select count(*) as n from invoices i join customers c on c.id = i.customer_id where c.external_user_id = $1`,
      [userId],
    ),
    pool.query<PageRow>(
      `select i.id, i.number, c.external_user_id as user_id, i.status, i.period, i.currency, i.total_minor,
              i.amount_paid_minor, i.due_date, i.payment_url, i.pdf_url, i.void_reason, i.created_at, i.paid_at
       from invoices i join customers c on c.id = i.customer_id
       where c.external_user_id = $1
       order by i.created_at desc, i.id desc
       limit $2`,
      [userId, first + 1],
    ),
  ]);
  const rows = page.rows.slice(0, first);
  const ids = rows.map((r) => r.id);
  const [lines, history] = await Promise.all([
    pool.query<{
      invoice_id: string;
      id: string;
      kind: string;
      metric: string | null;
      description: string;
      quantity: string;
      unit_amount: string | null;
      amount_minor: string;
    }>(
      `select l.invoice_id, l.id, l.kind, m.code as metric, l.description, l.quantity, l.unit_amount, l.amount_minor
       from invoice_lines l left join billable_metrics m on m.id = l.metric_id
       where l.invoice_id = any($1::uuid[])
       order by l.invoice_id, l.position`,
      [ids],
    ),
    pool.query<{
      invoice_id: string;
      from_status: string | null;
      to_status: string;
      source: string;
      reason: string | null;
      occurred_at: Date;
    }>(
      `select invoice_id, from_status, to_status, source, reason, occurred_at
       from invoice_status_changes where invoice_id = any($1::uuid[])
       order by occurred_at, id`,
      [ids],
    ),
  ]);
  const currencyOf = new Map(rows.map((r) => [r.id, r.currency]));
  const linesOf = new Map<string, unknown[]>(ids.map((id) => [id, []]));
  for (const l of lines.rows) {
    linesOf.get(l.invoice_id)?.push({
      id: l.id,
      kind: l.kind.toUpperCase(),
      metric: l.metric,
      description: l.description,
      quantity: trim(l.quantity),
      unitAmount: trim(l.unit_amount),
      amount: money(l.amount_minor, currencyOf.get(l.invoice_id) as string),
    });
  }
  const historyOf = new Map<string, unknown[]>(ids.map((id) => [id, []]));
  for (const h of history.rows) {
    historyOf.get(h.invoice_id)?.push({
      from: h.from_status,
      to: h.to_status,
      source: h.source,
      reason: h.reason,
      occurredAt: h.occurred_at.toISOString(),
    });
  }
  const cursor = (r: PageRow): string => Buffer.from(`${r.created_at.toISOString()}|${r.id}`).toString('base64url');
  const edges = rows.map((r) => ({
    cursor: cursor(r),
    node: {
      id: r.id,
      number: r.number,
      userId: r.user_id,
      status: r.status,
      period: r.period,
      amount: money(r.total_minor, r.currency),
      amountPaid: money(r.amount_paid_minor, r.currency),
      amountRemaining: money(
        r.status === 'VOID' ? '0' : (BigInt(r.total_minor) - BigInt(r.amount_paid_minor)).toString(),
        r.currency,
      ),
      dueDate: iso(r.due_date),
      paymentUrl: r.payment_url,
      pdfUrl: r.pdf_url,
      isPaid: r.status === 'PAID',
      voidReason: r.void_reason,
      createdAt: iso(r.created_at),
      paidAt: iso(r.paid_at),
      lines: linesOf.get(r.id),
      statusHistory: historyOf.get(r.id),
    },
  }));
  return JSON.stringify({
    data: {
      invoices: {
        totalCount: Number(count.rows[0].n),
        pageInfo: {
          hasNextPage: page.rows.length > first,
          endCursor: rows.length ? cursor(rows[rows.length - 1]) : null,
        },
        edges,
      },
    },
  });
}

/** The least a correct server must do: read the request, check the token, read the page, answer. */
async function baselineServer(url: string): Promise<{ url: string; close(): Promise<void> }> {
  const pool = new Pool({ connectionString: url, max: 10 });
  // Dropping the database at the end ends idle connections: not an error of the benchmark.
  pool.on('error', () => undefined);
  const key = new TextEncoder().encode(jwtSecret);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const fail = (status: number): void => {
        res.writeHead(status).end();
      };
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      jwtVerify(token, key, { algorithms: ['HS256'] })
        .then(async ({ payload }) => {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { variables: { first: number } };
          const json = await baselinePage(pool, String(payload.sub), body.variables.first);
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(json);
        })
        .catch(() => fail(500));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

// --- Client ----------------------------------------------------------------------------------------------------------

/** Keep-alive HTTP client on node:http (lighter than fetch, so the servers, not the client, dominate the figures). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const post = (url: string, payload: string, token: string) =>
  postJson(agent, url, payload, { authorization: `Bearer ${token}` });

/** `concurrency` clients, each with one request in flight, for `seconds`; answers requests per second. */
async function drive(url: string, payload: string, token: string): Promise<number> {
  const started = process.hrtime.bigint();
  const until = started + BigInt(Math.round(seconds * 1e9));
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (process.hrtime.bigint() < until) {
        const { status, body } = await post(url, payload, token);
        if (status !== 200) {
          throw new Error(`HTTP ${status} from ${url}: ${body.slice(0, 300)}`);
        }
        done += 1;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function main(): Promise<void> {
  const name = `billing_bench_${randomBytes(4).toString('hex')}`;
  await withScratchDatabase(serverUrl, name, async (url) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
    const db = await openDatabase({ databaseUrl: url });
    try {
      await migrate(db.orm);
      const seedPool = new Pool({ connectionString: url, max: 1 });
      await seed(seedPool);
      await seedPool.end();
      const config = loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        JWT_SECRET: jwtSecret,
        STRIPE_SECRET_KEY: 'sk_test_bench',
        STRIPE_API_BASE: 'http://127.0.0.1:9',
        STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
        DATA_DIR: dataDir,
        WEBHOOK_WORKER_ENABLED: 'false',
        BILLING_SCHEDULER_ENABLED: 'false',
      });
      const server = await createServer({ config, db });
      const base = await server.listen(0, '127.0.0.1');
      const baseline = await baselineServer(url);
      const token = await mintToken(jwtSecret, { sub: READER, role: Role.USER });
      const serverUrlGql = `${base}/graphql`;

      out(
        `invoice page: ${invoiceCount} invoices of one user (3-9 lines, 2-3 status changes each), ${concurrency} clients`,
      );
      out(`  baseline = node:http + jose + pg, hand-written SQL and JSON;  server = POST /graphql (full server)`);
      out(`  database: PostgreSQL ${new URL(url).host}`);
      for (const first of smoke ? [50] : [50, 10]) {
        const payload = JSON.stringify({ query: QUERY, variables: { first } });
        // The same answer, or the comparison means nothing.
        const ours = await post(serverUrlGql, payload, token);
        const theirs = await post(baseline.url, payload, token);
        deepStrictEqual(JSON.parse(ours.body), JSON.parse(theirs.body), `the answers to first: ${first} differ`);
        out(`invoices(first: ${first}): answers equal (${ours.body.length.toLocaleString('en-US')} bytes)`);
        // Warm both paths (JIT, connection pools), then alternate which goes first in each measured round.
        await drive(baseline.url, payload, token);
        await drive(serverUrlGql, payload, token);
        const ratios: number[] = [];
        const rates = { server: [] as number[], baseline: [] as number[] };
        const rate = (r: number): string => `${r.toFixed(1)}/s`.padStart(9);
        for (let round = 1; round <= rounds; round += 1) {
          let baselineRate: number;
          let serverRate: number;
          if (round % 2 === 1) {
            baselineRate = await drive(baseline.url, payload, token);
            serverRate = await drive(serverUrlGql, payload, token);
          } else {
            serverRate = await drive(serverUrlGql, payload, token);
            baselineRate = await drive(baseline.url, payload, token);
          }
          ratios.push(serverRate / baselineRate);
          rates.server.push(serverRate);
          rates.baseline.push(baselineRate);
          out(
            `  round ${round}: baseline ${rate(baselineRate)}  server ${rate(serverRate)}  ratio ` +
              `${(serverRate / baselineRate).toFixed(2)}`,
          );
        }
        const sorted = [...ratios].sort((a, b) => a - b);
        const median = sorted[Math.floor(sorted.length / 2)];
        const verdict = first === 50 && !smoke ? ` (target ≥ 0.50) ${median >= 0.5 ? 'MET' : 'NOT MET'}` : '';
        out(
          `  ratio server / baseline, first: ${first}: median ${median.toFixed(2)} (min ${sorted[0].toFixed(2)}, max ` +
            `${sorted[sorted.length - 1].toFixed(2)})${verdict}`,
        );
        const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        emitRow(flags.json === true, {
          bench: 'page',
          path: `invoices(first: ${first}) with lines and history, POST /graphql, ${concurrency} clients`,
          figure: Math.round(mid(rates.server) * 10) / 10,
          unit: 'pages/s',
          baseline: 'node:http + jose + pg, hand-written SQL',
          baselineFigure: Math.round(mid(rates.baseline) * 10) / 10,
          // The median round's ratio (each round measures both sides back to back), not a ratio of medians.
          ratio: Math.round(median * 1000) / 1000,
          target: first === 50 ? '≥ 0.50×' : null,
          rssMb: rssMb(),
        });
      }
      agent.destroy();
      await baseline.close();
      await server.close();
    } finally {
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

runBench(main);
