/**
 * A month of usage invoiced: `--events` events of January 2024 for `--customers` customers go in through the
 * `recordUsage` service (the ingestion path the API uses: COPY into a staging table, the events and their day rollups
 * written in one statement), by `--writers` concurrent writers in batches of `--batch-size` (each writer sends the
 * events of its own share of the customers, as a queue partitioned by customer would); ingestion's events/s is its
 * own figure. Then:
 *
 * - the preview (`getUsageSummary`, what `usageSummary` answers: priced lines from the day rollups) for a sample of
 *   customers, against its aggregation as it was before the rollups, run on the events through `pg`;
 * - the usage side of invoicing one customer, claims (`billUsageOnInvoice`) against billing as it was before claims
 *   (one write per event, rollups rebuilt from the events, on a scratch column), both rolled back, on a sample;
 * - the billing run for every customer (`runBilling`, as the CLI and the scheduler run it) against the local Stripe
 *   in a child process, unlimited (its limit set to 1,000,000/s, so that it counts the requests it serves);
 * - verification: every customer's invoice total equals its usage aggregated from the raw events (not the rollups)
 *   and priced by the default catalogue's prices; a sample of invoices also has that total at the local Stripe; no
 *   unbilled usage of the month is left.
 *
 *   npm run bench:month -- [--events 10000000] [--customers 10000] [--writers 2] [--batch-size 10000]
 *                          [--preview-customers 200] [--baseline-customers 200] [--stripe-sample 100] [--smoke] [--json]
 *
 * What it costs (2 cores shared with other work): the full default, 10M events / 10k customers, takes about an hour
 * (ingestion ≈ 15 min, the billing run most of the rest: see docs/benchmarks.md) and ≈ 4 GB of database, dropped
 * after; 1M / 1k about 7 minutes. `npm run bench` runs it at `--month-events` (default 1,000,000 events for 1,000 customers), not at the full
 * size. `--smoke`: 10,000 events, 20 customers, seconds.
 *
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after
 * (`--database NAME` invoices the month already ingested there instead, and keeps it).
 */
import { randomBytes } from 'node:crypto';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { loadConfig } from '../src/config/config';
import { MAX_USAGE_BATCH, recordUsage } from '../src/services/usage/record-usage.service';
import { getUsageSummary } from '../src/services/usage/usage-summary.service';
import { computeInvoiceLines } from '../src/services/invoicing/invoice-lines';
import { parsePeriod } from '../src/services/billing-runs/billing-period';
import { runBilling } from '../src/services/billing-runs/billing-run.service';
import { billUsageOnInvoice, billedOnSql } from '../src/services/usage/usage-repository';
import { DEFAULT_CATALOGUE, seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { invoiceTotal, priceQuantity } from '../src/services/usage/pricing';
import { EMULATOR_SECRET_KEY, gatewayFromConfig } from '../src/stripe/gateway-from-config';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from '../src/entities/orm';
import { cpuSeconds, emitRow, ratioOf, rssMb } from './lib/bench-row';
import type { BenchRow } from './lib/bench-row';
import {
  benchCommandLine,
  benchServerUrl,
  databaseUrl,
  loadAverage,
  runBench,
  withClient,
  withScratchDatabase,
} from './lib/bench-util';
import { spawnEmulator } from './lib/emulator-process';

const ABOUT =
  'A month of usage invoiced: ingestion, previews, usage claims and the billing run, with every total verified.';
const { flags, number } = benchCommandLine('npm run bench:month', ABOUT, {
  events: {
    type: 'string',
    value: 'N',
    description: 'events in the month (default 10,000,000: about an hour and 4 GB of database; 1,000,000: minutes)',
  },
  customers: { type: 'string', value: 'N', description: 'customers (default 10,000)' },
  writers: { type: 'string', value: 'N', description: 'concurrent recordUsage writers (default 2)' },
  'batch-size': {
    type: 'string',
    value: 'N',
    description: `events per recordUsage batch (default and most ${MAX_USAGE_BATCH.toLocaleString('en-US')})`,
  },
  'preview-customers': { type: 'string', value: 'N', description: 'customers whose preview is timed (default 200)' },
  'baseline-customers': { type: 'string', value: 'N', description: 'customers billed the old way (default 200)' },
  'stripe-sample': { type: 'string', value: 'N', description: 'invoices checked at the local Stripe (default 100)' },
  database: {
    type: 'string',
    value: 'NAME',
    description: 'invoice the month already ingested in this database (a run stopped during ingestion); kept after',
  },
  smoke: { type: 'boolean', description: 'a short run (10,000 events, 20 customers): no thresholds' },
  json: { type: 'boolean', description: 'also print one BENCH_ROW line per figure' },
});
const smoke = flags.smoke === true;
const monthEvents = number('events', smoke ? 10_000 : 10_000_000);
const customerCount = number('customers', smoke ? 20 : 10_000);
const writers = Math.max(1, number('writers', 2));
const batchSize = Math.min(MAX_USAGE_BATCH, number('batch-size', MAX_USAGE_BATCH));
const previewCustomers = number('preview-customers', smoke ? 5 : 200);
const baselineCustomers = number('baseline-customers', smoke ? 5 : 200);
const stripeSample = number('stripe-sample', smoke ? 5 : 100);
const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const load = (): string => `load ${loadAverage()}`;
const count = (n: number | string): string => Number(n).toLocaleString('en-US');
const since = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

const rows: BenchRow[] = [];
const row = (r: Omit<BenchRow, 'bench' | 'ratio' | 'rssMb'>, ratio: number | null = null): void => {
  rows.push({ bench: 'month', ...r, ratio, rssMb: rssMb() });
};

const period = parsePeriod('2024-01');
const METRICS = ['llm_input_tokens', 'llm_output_tokens', 'tool_calls', 'agent_runtime_minutes'];

/**
 * Event `i` of the month: customer `i mod customers`, each customer's events cycling through the four metrics, spread
 * over the month's seconds. Writer `w` of `n` sends the events `i ≡ w (mod n)`, so (when `n` divides the customer
 * count) its own customers: the writers never wait on each other's rollup rows.
 */
const event = (i: number) => ({
  userId: `month-user-${i % customerCount}`,
  metric: METRICS[Math.floor(i / customerCount) % METRICS.length],
  quantity: Math.floor(i / customerCount) % METRICS.length === 2 ? '1' : String(100 + (i % 900)),
  occurredAt: new Date(Date.UTC(2024, 0, 1) + ((i * 7919) % (31 * 86_400)) * 1000).toISOString(),
  idempotencyKey: `m-${i}`,
  agentId: `agent-${i % 10}`,
});

/** One writer: its events in batches through `recordUsage`, one after another. */
async function writer(db: Database, w: number): Promise<number> {
  const caller = { userId: 'bench', role: Role.SERVICE };
  let accepted = 0;
  let batch: Array<ReturnType<typeof event>> = [];
  for (let i = w; i < monthEvents; i += writers) {
    batch.push(event(i));
    if (batch.length === batchSize || i + writers >= monthEvents) {
      const result = await recordUsage(db.orm.em.fork(), caller, batch, new Date('2024-02-01T00:00:00Z'));
      if (result.rejected.length > 0 || result.accepted !== batch.length) {
        throw new Error(`a batch of ${batch.length} stored ${result.accepted}: ${JSON.stringify(result.rejected[0])}`);
      }
      accepted += result.accepted;
      batch = [];
    }
  }
  return accepted;
}

/** The preview's aggregation as it was before the day rollups (usage-aggregation.ts before them), on the events. */
const PREVIEW_FROM_EVENTS = `with usage as (
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
   select u.metric_id, u.price_id, sum(u.quantity)::text, count(*)::text, max(u.quantity)::text, min(u.occurred_at)
   from usage u group by u.metric_id, u.price_id`;

/** Billing as it was before claims (one write per event, rollups rebuilt from the events), on a scratch column. */
async function billPerEvent(tem: EntityManager, invoiceId: string, customerId: string): Promise<void> {
  await tem.execute('select 1 from customers where id = ? for update', [customerId]);
  const days = await tem.execute<Array<{ metric_id: string; day: string }>>(
    `with moved as (
       update usage_records set bench_billed_on = ?
       where customer_id = ? and bench_billed_on is null and occurred_at >= ? and occurred_at < ?
       returning metric_id, occurred_at
     )
     select distinct metric_id, ((occurred_at at time zone 'UTC')::date)::text as day from moved`,
    [invoiceId, customerId, period.start, period.end],
  );
  const params = [customerId, JSON.stringify(days)];
  const keysSql = `select k.metric_id::uuid, k.day::date from jsonb_to_recordset(?::jsonb) as k(metric_id text, day text)`;
  await tem.execute(`delete from usage_rollups where customer_id = ? and (metric_id, day) in (${keysSql})`, params);
  await tem.execute(
    `insert into usage_rollups (customer_id, metric_id, day, bucket, events, quantity_sum, quantity_max, first_at)
     select customer_id, metric_id, (occurred_at at time zone 'UTC')::date,
            coalesce(bench_billed_on, '00000000-0000-0000-0000-000000000000'::uuid),
            count(*), sum(quantity), max(quantity), min(occurred_at)
     from usage_records
     where customer_id = ? and (metric_id, (occurred_at at time zone 'UTC')::date) in (${keysSql})
     group by 1, 2, 3, 4`,
    params,
  );
}

class RolledBack extends Error {}

/** The usage side of one customer's invoice in one transaction, rolled back: an invoice row, its usage, its lines. */
async function invoiceUsageRolledBack(
  db: Database,
  customerId: string,
  bill: (tem: EntityManager, invoiceId: string) => Promise<void>,
): Promise<{ marking: number; total: number }> {
  const began = process.hrtime.bigint();
  let marking = 0;
  try {
    await db.orm.em.fork().transactional(async (tem) => {
      const [{ id: invoiceId }] = await tem.execute<Array<{ id: string }>>(
        `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency)
         values (gen_random_uuid(), ?, ?, '2024-01', ?, ?, 'DRAFT', 'usd') returning id`,
        [`BENCH-${customerId}`, customerId, period.start, period.end],
      );
      const marked = process.hrtime.bigint();
      await bill(tem, invoiceId);
      marking = since(marked);
      await computeInvoiceLines(tem, customerId, 'usd', period, invoiceId);
      throw new RolledBack();
    });
  } catch (error) {
    if (!(error instanceof RolledBack)) {
      throw error;
    }
  }
  return { marking, total: since(began) };
}

/** `n` customers spread evenly over the list. */
const spread = <T>(list: T[], n: number): T[] =>
  Array.from(
    { length: Math.min(n, list.length) },
    (_, k) => list[Math.floor((k * list.length) / Math.min(n, list.length))],
  );

/**
 * Every customer's month total from the raw events (not the rollups), priced by the default catalogue's prices as
 * seeded: what each invoice must say. One aggregation over the month's events.
 */
async function expectedTotals(url: string): Promise<Map<string, bigint>> {
  const specs = new Map(DEFAULT_CATALOGUE.map((m) => [m.code, m]));
  const totals = new Map<string, bigint>();
  const found = await withClient(url, (c) =>
    c.query<{ customer_id: string; code: string; total: string; events: string; biggest: string }>(
      `select ur.customer_id, m.code, sum(ur.quantity)::text as total, count(*)::text as events,
              max(ur.quantity)::text as biggest
       from usage_records ur join billable_metrics m on m.id = ur.metric_id
       where ur.occurred_at >= $1 and ur.occurred_at < $2
       group by 1, 2`,
      [period.start, period.end],
    ),
  );
  for (const r of found.rows) {
    const metric = specs.get(r.code);
    if (!metric) {
      throw new Error(`usage of ${r.code}, not in the default catalogue`);
    }
    const quantity = metric.aggregation === 'count' ? r.events : metric.aggregation === 'max' ? r.biggest : r.total;
    const line = priceQuantity(quantity, { freeAllowance: '0', ...metric.price }, 'usd');
    totals.set(r.customer_id, (totals.get(r.customer_id) ?? 0n) + invoiceTotal([line]));
  }
  return totals;
}

async function main(): Promise<void> {
  if (typeof flags.database === 'string') {
    return invoiceMonth(databaseUrl(benchServerUrl(), flags.database), true);
  }
  return withScratchDatabase(benchServerUrl(), `month_bench_${randomBytes(4).toString('hex')}`, (url) =>
    invoiceMonth(url, false),
  );
}

/** The month on the database at `url`: ingested first, unless `reused` (ingested by an earlier run). */
async function invoiceMonth(url: string, reused: boolean): Promise<void> {
  const db = await openDatabase({ databaseUrl: url, poolMax: Math.max(10, writers + 2) });
  // SIGTERM (`npm run bench`'s --timeout) or Ctrl-C stops this local Stripe too, `--database` or not (spawnEmulator).
  const emulator = await spawnEmulator(['--rate-limit', '1000000']);
  try {
    if (!reused) {
      await migrate(db.orm);
      await seedDefaultCatalogue(db.orm.em.fork());
      out(
        `a month of usage invoiced: ${count(monthEvents)} events, ${count(customerCount)} customers` +
          `${smoke ? ' (smoke)' : ''}`,
      );
      out(`  machine before: ${load()}`);
      const started = process.hrtime.bigint();
      const accepted = await Promise.all(Array.from({ length: writers }, (_, w) => writer(db, w)));
      const ingest = since(started);
      const stored = accepted.reduce((a, b) => a + b, 0);
      out(
        `  ingest (recordUsage: COPY, rollups kept; ${writers} writer(s), batches of ${count(batchSize)})   ` +
          `${ingest.toFixed(1)} s   ${count(Math.round(stored / ingest))} events/s   (${load()})`,
      );
      row({
        path: `ingest a month (recordUsage, COPY + rollups, ${writers} writers × ${count(batchSize)})`,
        figure: Math.round(stored / ingest),
        unit: 'events/s',
        baseline: null,
        baselineFigure: null,
        target: null,
      });
    }

    const sizes = await withClient(url, async (c) => {
      await c.query('analyze');
      const { rows: counted } = await c.query<{ events: string; rollups: string; size: string }>(
        `select (select count(*) from usage_records)::text as events, (select count(*) from usage_rollups)::text as rollups,
                pg_size_pretty(pg_database_size(current_database())) as size`,
      );
      return counted[0];
    });
    out(
      `  stored: ${count(sizes.events)} events, ${count(sizes.rollups)} day rollup rows ` +
        `(customer × metric × day); database ${sizes.size}`,
    );
    const customers = await withClient(
      url,
      async (c) =>
        (
          await c.query<{ id: string; user: string }>(
            `select id, external_user_id as user from customers where external_user_id like 'month-user-%' order by id`,
          )
        ).rows,
    );

    // The preview (what a user's cost so far reads) from the day rollups, against its aggregation as it was before
    // them, on the events through `pg` (without the catalogue, late periods and pricing, so it flatters the events).
    const previewed = spread(customers, previewCustomers);
    let started1 = process.hrtime.bigint();
    await withClient(url, async (c) => {
      for (const { id } of previewed) {
        await c.query(PREVIEW_FROM_EVENTS, [id, period.start, period.end]);
      }
    });
    const fromEvents = since(started1);
    const service = { userId: 'bench', role: Role.SERVICE };
    started1 = process.hrtime.bigint();
    for (const { user } of previewed) {
      await getUsageSummary(db.orm.em.fork(), service, { period: period.key, userId: user }, 'usd');
    }
    const preview = since(started1);
    const perMs = (seconds: number, n: number): number => Number(((seconds / n) * 1000).toFixed(2));
    out(
      `  preview (usageSummary) ${perMs(preview, previewed.length)} ms/customer; from the events ` +
        `${perMs(fromEvents, previewed.length)} ms/customer; ${previewed.length} customers   (${load()})`,
    );
    row(
      {
        path: "preview a customer's month (usageSummary, from the rollups)",
        figure: perMs(preview, previewed.length),
        unit: 'ms/customer',
        baseline: 'sums per metric from the events (pg)',
        baselineFigure: perMs(fromEvents, previewed.length),
        target: null,
      },
      ratioOf(perMs(fromEvents, previewed.length), perMs(preview, previewed.length)),
    );

    // The usage side of one invoice, claims against per-event marking, both rolled back (the data stays as ingested).
    await db.orm.em.fork().execute('alter table usage_records add column if not exists bench_billed_on uuid');
    const sample = spread(customers, baselineCustomers);
    const before = { marking: 0, total: 0 };
    const after = { marking: 0, total: 0 };
    for (const { id } of sample) {
      const old = await invoiceUsageRolledBack(db, id, (tem, inv) => billPerEvent(tem, inv, id));
      const now = await invoiceUsageRolledBack(db, id, (tem, invoiceId) =>
        billUsageOnInvoice(tem, { invoiceId, customerId: id, periodStart: period.start, periodEnd: period.end }),
      );
      before.marking += old.marking;
      before.total += old.total;
      after.marking += now.marking;
      after.total += now.total;
    }
    await db.orm.em.fork().execute('alter table usage_records drop column bench_billed_on');
    const mark = perMs(after.marking, sample.length);
    const baseMark = perMs(before.marking, sample.length);
    const tx = perMs(after.total, sample.length);
    const baseTx = perMs(before.total, sample.length);
    out(
      `  usage side of an invoice, ${sample.length} customers rolled back: marking ${mark} ms (per event: ` +
        `${baseMark} ms), invoice tx ${tx} ms (per event: ${baseTx} ms)   (${load()})`,
    );
    row(
      {
        path: 'mark a customer-month billed',
        figure: mark,
        unit: 'ms/customer',
        baseline: 'per-event marking (before claims)',
        baselineFigure: baseMark,
        target: null,
      },
      ratioOf(baseMark, mark),
    );
    row(
      {
        path: "invoice a customer's month (usage side, 1 tx)",
        figure: tx,
        unit: 'ms/customer',
        baseline: 'per-event marking (before claims)',
        baselineFigure: baseTx,
        target: null,
      },
      ratioOf(baseTx, tx),
    );

    // The billing run: every customer invoiced at the local Stripe, as `npm run billing:run` does it.
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: url,
      STRIPE_API_BASE: emulator.url,
    });
    const cpu = [cpuSeconds(), cpuSeconds(emulator.child.pid)];
    const started2 = process.hrtime.bigint();
    const outcome = await runBilling({ em: db.orm.em, gateway: gatewayFromConfig(config), config }, period.key);
    const billing = since(started2);
    const stripe = (await (await fetch(`${emulator.url}/_emulator/rate-limit`)).json()) as {
      allowed: number;
      refused: number;
    };
    const run = outcome.kind === 'period_not_ended' ? null : outcome.run;
    // CPU-seconds the run (this process) and the local Stripe used per second of the run: how much of a core each
    // got; far below one on a busy machine means the run waited for CPU, not for Stripe or the database.
    const share = (before: number | null, after: number | null): string =>
      before === null || after === null ? '?' : ((after - before) / billing).toFixed(2);
    out(
      `  billing run (runBilling, local Stripe unlimited)   ${(billing / 60).toFixed(2)} min   ` +
        `${run?.done ?? 0} invoiced, ${run?.failed ?? 0} failed, ${run?.skipped ?? 0} skipped; ` +
        `${count(stripe.allowed)} requests to Stripe (${(stripe.allowed / billing).toFixed(0)}/s, ` +
        `${(stripe.allowed / customers.length).toFixed(1)} per customer), ${stripe.refused} refused; CPU per second ` +
        `of the run: the run ${share(cpu[0], cpuSeconds())}, the local Stripe ` +
        `${share(cpu[1], cpuSeconds(emulator.child.pid))}   (${load()})`,
    );
    row({
      path: `billing run, ${count(sizes.events)} events / ${count(customers.length)} customers (local Stripe, unlimited)`,
      figure: Number((billing / 60).toFixed(2)),
      unit: 'min',
      baseline: null,
      baselineFigure: null,
      // The month: judged only at its size.
      target: Number(sizes.events) >= 10_000_000 && customers.length >= 10_000 ? '≤ 10 min' : null,
    });

    // Verification: every invoice's total is its customer's raw events priced; Stripe has it; nothing left unbilled.
    const started3 = process.hrtime.bigint();
    const expected = await expectedTotals(url);
    const invoices = await withClient(
      url,
      async (c) =>
        (
          await c.query<{ customer_id: string; total: string; status: string; stripe_id: string | null }>(
            `select customer_id, total_minor::text as total, status, stripe_invoice_id as stripe_id from invoices
             where period = $1 and status <> 'VOID'`,
            [period.key],
          )
        ).rows,
    );
    const unbilled = await withClient(url, async (c) => {
      const { rows: left } = await c.query<{ n: string }>(
        `select count(*)::text as n from usage_rollups where bucket = '00000000-0000-0000-0000-000000000000'`,
      );
      return Number(left[0].n);
    });
    const byCustomer = new Map(invoices.map((i) => [i.customer_id, i]));
    const wrong = customers.filter(({ id }) => byCustomer.get(id)?.total !== String(expected.get(id) ?? 0n));
    let stripeWrong = 0;
    for (const { id } of spread(customers, stripeSample)) {
      const inv = byCustomer.get(id);
      const res = await fetch(`${emulator.url}/v1/invoices/${inv?.stripe_id ?? 'none'}`, {
        headers: { authorization: `Bearer ${EMULATOR_SECRET_KEY}` },
      });
      const body = (await res.json()) as { total?: number };
      if (!inv || String(body.total) !== inv.total) {
        stripeWrong += 1;
      }
    }
    const sum = [...expected.values()].reduce((a, b) => a + b, 0n);
    const verified = wrong.length === 0 && stripeWrong === 0 && unbilled === 0 && invoices.length === customers.length;
    out(
      `  verification (${since(started3).toFixed(1)} s): ${invoices.length}/${customers.length} invoices; ` +
        `${customers.length - wrong.length} totals equal the raw events priced (${wrong.length} differ; ` +
        `month total ${count(sum.toString())} cents); ${stripeWrong} of ${Math.min(stripeSample, customers.length)} ` +
        `sampled differ at Stripe; ${unbilled} unbilled rollup rows left: ${verified ? 'OK' : 'FAILED'}`,
    );
    if (wrong.length > 0) {
      const [first] = wrong;
      out(
        `    e.g. customer ${first.id}: invoice ${byCustomer.get(first.id)?.total}, events ${expected.get(first.id)}`,
      );
    }
    for (const r of rows) {
      emitRow(flags.json === true, r);
    }
    if (!verified) {
      process.exitCode = 1;
    }
  } finally {
    await db.close();
    emulator.child.kill();
  }
}

runBench(main);
