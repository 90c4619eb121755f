/**
 * A month of usage invoiced: `--events` events of January 2024 for `--customers` customers go in through the
 * `recordUsage` service (COPY into a staging table, rollups kept), then every customer's usage is invoiced as a
 * billing run does it, minus Stripe: in one transaction per customer, an invoice row, the period's usage put on it
 * (`billUsageOnInvoice`: a claim per period and the day rollups moved to the invoice's bucket) and its priced lines
 * (`computeInvoiceLines`, from the rollups). Stripe's pace is the billing run's benchmark. Before invoicing, each
 * customer's preview (`computeInvoiceLines` without an invoice, what the cost-so-far view reads) is timed against its
 * aggregation as it was before the day rollups, run on the events through `pg`.
 *
 * Baseline in the same run: billing as it was before claims, one write per event (`update usage_records set
 * billed_on_invoice_id = …` over the period's events, then the touched day rollups rebuilt from the events), on a
 * scratch column, for the first `--baseline-customers` customers (each rolled back, so it leaves the data as it was;
 * reported per customer and extrapolated to all, since its cost per customer does not depend on the others).
 *
 *   npm run bench:month -- [--events 10000000] [--customers 10000] [--baseline-customers 200] [--smoke] [--json]
 *
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), dropped after.
 */
import { randomBytes } from 'node:crypto';
import { memoryUsage } from 'node:process';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { numberFlag, parseCommandLine } from '../src/cli/args';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { computeInvoiceLines } from '../src/services/invoicing/invoice-lines';
import { parsePeriod } from '../src/services/billing-runs/billing-period';
import { billUsageOnInvoice, billedOnSql } from '../src/services/usage/usage-repository';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from '../src/entities/orm';
import { loadAverage, withClient } from './lib/bench-util';

const { flags } = parseCommandLine(process.argv.slice(2), {
  events: { type: 'string', value: 'N', description: 'events in the month (default 10,000,000)' },
  customers: { type: 'string', value: 'N', description: 'customers (default 10,000)' },
  'baseline-customers': { type: 'string', value: 'N', description: 'customers billed the old way (default 200)' },
  'batch-size': { type: 'string', value: 'N', description: 'events per recordUsage batch (default 10,000)' },
  database: {
    type: 'string',
    value: 'NAME',
    description: 'invoice the month already ingested in this database (a run stopped during ingestion); kept after',
  },
  smoke: { type: 'boolean', description: 'a short run (20,000 events, 200 customers): no thresholds' },
  json: { type: 'boolean', description: 'also print one BENCH_ROW line per figure' },
});
const smoke = flags.smoke === true;
const monthEvents = numberFlag(flags, 'events', smoke ? 20_000 : 10_000_000);
const customerCount = numberFlag(flags, 'customers', smoke ? 200 : 10_000);
const baselineCustomers = Math.min(customerCount, numberFlag(flags, 'baseline-customers', smoke ? 20 : 200));
const batchSize = numberFlag(flags, 'batch-size', 10_000);
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const load = (): string => `load ${loadAverage()}`;
const rssMb = (): number => Math.round(memoryUsage().rss / 1e6);

interface Row {
  path: string;
  figure: number;
  unit: string;
  baseline: string | null;
  baselineFigure: number | null;
  target: string | null;
}
const rows: Row[] = [];
const row = (r: Row): void => {
  rows.push(r);
};

const period = parsePeriod('2024-01');
const batch = (b: number) =>
  Array.from({ length: Math.min(batchSize, monthEvents - b * batchSize) }, (_, j) => {
    const i = b * batchSize + j;
    return {
      userId: `month-user-${i % customerCount}`,
      metric: ['llm_input_tokens', 'llm_output_tokens', 'tool_calls', 'agent_runtime_minutes'][i % 4],
      quantity: i % 4 === 2 ? '1' : String(100 + (i % 900)),
      occurredAt: new Date(Date.UTC(2024, 0, 1) + ((i * 7919) % (31 * 86_400)) * 1000).toISOString(),
      idempotencyKey: `m-${i}`,
      agentId: `agent-${i % 10}`,
    };
  });

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

/** Invoices one customer's month in one transaction: an invoice row, its usage marked billed, its lines. */
async function invoiceCustomer(
  db: Database,
  customerId: string,
  number: string,
  bill: (tem: EntityManager, invoiceId: string) => Promise<void>,
  rollBack: boolean,
): Promise<{ marking: number; total: number }> {
  const began = process.hrtime.bigint();
  let marking = 0;
  try {
    await db.orm.em.fork().transactional(async (tem) => {
      const [{ id: invoiceId }] = await tem.execute<Array<{ id: string }>>(
        `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency)
         values (gen_random_uuid(), ?, ?, '2024-01', ?, ?, 'DRAFT', 'usd') returning id`,
        [number, customerId, period.start, period.end],
      );
      const marked = process.hrtime.bigint();
      await bill(tem, invoiceId);
      marking = Number(process.hrtime.bigint() - marked) / 1e9;
      await computeInvoiceLines(tem, customerId, 'usd', period, invoiceId);
      if (rollBack) {
        throw new RolledBack();
      }
    });
  } catch (error) {
    if (!(error instanceof RolledBack)) {
      throw error;
    }
  }
  return { marking, total: Number(process.hrtime.bigint() - began) / 1e9 };
}

async function main(): Promise<void> {
  const reused = typeof flags.database === 'string' ? flags.database : undefined;
  const name = reused ?? `month_bench_${randomBytes(4).toString('hex')}`;
  if (!reused) {
    await withClient(serverUrl, (c) => c.query(`create database "${name}"`));
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = await openDatabase({ databaseUrl: url.toString() });
  const since = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    if (!reused) {
      await migrate(db.orm);
      await seedDefaultCatalogue(db.orm.em.fork());
      out(
        `a month of usage invoiced: ${monthEvents.toLocaleString('en-US')} events, ` +
          `${customerCount.toLocaleString('en-US')} customers${smoke ? ' (smoke)' : ''}`,
      );
      out(`  machine before: ${load()}`);
      const caller = { userId: 'bench', role: Role.SERVICE };
      const started = process.hrtime.bigint();
      for (let b = 0; b * batchSize < monthEvents; b += 1) {
        await recordUsage(db.orm.em.fork(), caller, batch(b), new Date('2024-02-01T00:00:00Z'));
      }
      const ingest = since(started);
      out(
        `  ingest (recordUsage, batches of ${batchSize})   ${ingest.toFixed(1)} s   ` +
          `${Math.round(monthEvents / ingest)} events/s   (${load()})`,
      );
      row({
        path: 'ingest a month (recordUsage, COPY)',
        figure: Math.round(monthEvents / ingest),
        unit: 'events/s',
        baseline: null,
        baselineFigure: null,
        target: null,
      });
    }

    const [{ stored }] = await db.orm.em
      .fork()
      .execute<Array<{ stored: string }>>('select count(*)::text as stored from usage_records');
    if (reused) {
      out(`a month of usage invoiced: ${Number(stored).toLocaleString('en-US')} events already in ${name}`);
      out(`  machine before: ${load()}`);
    }
    const customers = await withClient(url.toString(), async (c) => {
      await c.query('analyze');
      return (
        await c.query<{ id: string }>(`select id from customers where external_user_id like 'month-user-%' order by id`)
      ).rows;
    });

    // The preview (what a user's cost so far reads) from the day rollups, against its aggregation as it was before
    // them, on the events through `pg` (without the catalogue, late periods and pricing, so it flatters the events).
    let started1 = process.hrtime.bigint();
    await withClient(url.toString(), async (c) => {
      for (const { id } of customers) {
        await c.query(PREVIEW_FROM_EVENTS, [id, period.start, period.end]);
      }
    });
    const fromEvents = since(started1);
    started1 = process.hrtime.bigint();
    for (const { id } of customers) {
      await computeInvoiceLines(db.orm.em.fork(), id, 'usd', period);
    }
    const preview = since(started1);
    const perMs = (seconds: number): number => Number(((seconds / customers.length) * 1000).toFixed(2));
    out(
      `  preview from the rollups ${perMs(preview)} ms/customer; from the events ${perMs(fromEvents)} ms/customer   (${load()})`,
    );
    row({
      path: "preview a customer's month (priced lines from the rollups)",
      figure: perMs(preview),
      unit: 'ms/customer',
      baseline: 'sums per metric from the events (pg)',
      baselineFigure: perMs(fromEvents),
      target: null,
    });

    // The baseline first, rolled back customer by customer (the data stays as ingested), then every customer.
    await db.orm.em.fork().execute('alter table usage_records add column if not exists bench_billed_on uuid');
    const sample = customers.slice(0, baselineCustomers);
    const before = { marking: 0, total: 0 };
    for (const [i, { id }] of sample.entries()) {
      const spent = await invoiceCustomer(db, id, `BENCH-OLD-${i}`, (tem, inv) => billPerEvent(tem, inv, id), true);
      before.marking += spent.marking;
      before.total += spent.total;
    }
    out(
      `  baseline: per-event marking, ${sample.length} customers rolled back   ${before.total.toFixed(1)} s   (${load()})`,
    );
    const after = { marking: 0, total: 0 };
    const started2 = process.hrtime.bigint();
    for (const [i, { id }] of customers.entries()) {
      const spent = await invoiceCustomer(
        db,
        id,
        `BENCH-${i}`,
        (tem, invoiceId) =>
          billUsageOnInvoice(tem, { invoiceId, customerId: id, periodStart: period.start, periodEnd: period.end }),
        false,
      );
      after.marking += spent.marking;
      after.total += spent.total;
    }
    const invoicing = since(started2);
    out(`  invoice usage (claims + lines, 1 tx each)     ${invoicing.toFixed(1)} s   (${load()})`);
    const ms = (seconds: number, count: number): number => Number(((seconds / count) * 1000).toFixed(2));
    const perCustomer = ms(after.total, customers.length);
    const basePerCustomer = ms(before.total, sample.length);
    const markPerCustomer = ms(after.marking, customers.length);
    const baseMarkPerCustomer = ms(before.marking, sample.length);
    const extrapolated = (basePerCustomer * customers.length) / 1000;
    out(
      `  per customer: marking ${markPerCustomer} ms (per event: ${baseMarkPerCustomer} ms), invoice tx ${perCustomer} ms (per event: ${basePerCustomer} ms)`,
    );
    out(
      `  the month's usage invoiced in ${invoicing.toFixed(1)} s; the per-event way ≈${extrapolated.toFixed(0)} s ` +
        `for ${customers.length} customers (extrapolated from ${sample.length})`,
    );
    row({
      path: 'mark a customer-month billed',
      figure: markPerCustomer,
      unit: 'ms/customer',
      baseline: 'per-event marking (before claims)',
      baselineFigure: baseMarkPerCustomer,
      target: null,
    });
    row({
      path: "invoice a customer's month (usage side, 1 tx)",
      figure: perCustomer,
      unit: 'ms/customer',
      baseline: 'per-event marking (before claims)',
      baselineFigure: basePerCustomer,
      target: null,
    });
    row({
      path: `invoice a month's usage (${stored} events, ${customers.length} customers)`,
      figure: Number(invoicing.toFixed(1)),
      unit: 's',
      baseline: 'per-event marking, extrapolated',
      baselineFigure: Number(extrapolated.toFixed(1)),
      target: '≤ 600 s for 10M events / 10k customers',
    });
    if (flags.json === true) {
      for (const r of rows) {
        // Lower is better for every figure here but ingestion: the ratio says how many times better than the baseline.
        const ratio = r.baselineFigure ? Number((r.baselineFigure / r.figure).toFixed(3)) : null;
        out(`BENCH_ROW ${JSON.stringify({ bench: 'month', ...r, ratio, rssMb: rssMb() })}`);
      }
    }
  } finally {
    await db.close();
    if (!reused) {
      await withClient(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
