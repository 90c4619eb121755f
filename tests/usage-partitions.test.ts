import { Role } from '../src/entities/enums';
import { migrate } from '../src/entities/orm';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { billUsageOnInvoice, billedOnSql } from '../src/services/usage/usage-repository';
import {
  applyUsageRetention,
  ensureUsagePartitionsAhead,
  listUsagePartitions,
} from '../src/services/usage/usage-partitions';
import { getUsageDaily } from '../src/services/usage/usage-daily.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { parsePeriod } from '../src/services/billing-runs/billing-period';
import type { TestDatabase } from './helpers/database';
import { createEmptyDatabase, createTestDatabase } from './helpers/database';

/**
 * `usage_records` is partitioned by month of `occurred_at`: partitions are created ahead and on demand, old months
 * are dropped (or detached) for retention unless they hold unbilled usage, and an idempotency key stays one event
 * whatever month a retry claims. The migration converts the events stored before, their billing included.
 */
const service = { userId: 'platform', role: Role.SERVICE };
const admin = { userId: 'admin-1', role: Role.ADMIN };
const NOW = new Date('2024-06-10T00:00:00Z');

const event = (userId: string, occurredAt: string, idempotencyKey: string, quantity = '10') => ({
  userId,
  metric: 'llm_input_tokens',
  quantity,
  occurredAt,
  idempotencyKey,
});

describe('usage partitions', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
    await seedDefaultCatalogue(t.db.orm.em.fork());
  });
  afterEach(() => t.drop());

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> => t.db.orm.em.fork().execute<T[]>(text, params);
  const months = async (): Promise<string[]> => (await listUsagePartitions(t.db.orm.em.fork())).map((p) => p.month);

  /** Puts a customer's month on a new invoice, as createInvoice does (without Stripe). */
  const bill = async (userId: string, periodKey: string): Promise<void> => {
    const period = parsePeriod(periodKey);
    const [{ id: customerId }] = await sql<{ id: string }>('select id from customers where external_user_id = ?', [
      userId,
    ]);
    await t.db.orm.em.fork().transactional(async (tem) => {
      const [{ id: invoiceId }] = await tem.execute<Array<{ id: string }>>(
        `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency)
         values (gen_random_uuid(), ?, ?, ?, ?, ?, 'OPEN', 'usd') returning id`,
        [`T-${userId}-${periodKey}`, customerId, periodKey, period.start, period.end],
      );
      await billUsageOnInvoice(tem, { invoiceId, customerId, periodStart: period.start, periodEnd: period.end });
    });
  };

  it('creates last month, this month and the months ahead, once', async () => {
    const now = new Date('2031-05-17T10:00:00Z');
    expect(await ensureUsagePartitionsAhead(t.db.orm.em.fork(), now, 2)).toEqual([
      '2031-04',
      '2031-05',
      '2031-06',
      '2031-07',
    ]);
    expect(await ensureUsagePartitionsAhead(t.db.orm.em.fork(), now, 2)).toEqual([]);
    expect(await months()).toEqual(expect.arrayContaining(['2031-04', '2031-05', '2031-06', '2031-07']));
    expect(await months()).not.toContain('2031-08');
  });

  it('creates the partition of a month that has none when its usage arrives, and stores the event in it', async () => {
    expect(await months()).not.toContain('2003-05');
    const result = await recordUsage(t.db.orm.em.fork(), service, [event('u-old', '2003-05-31T23:59:59Z', 'k1')], NOW);
    expect(result).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(await months()).toContain('2003-05');
    const [row] = await sql<{ partition: string }>(
      `select tableoid::regclass::text as partition from usage_records where idempotency_key = 'k1'`,
    );
    expect(row.partition).toBe('usage_records_p2003_05');
  });

  it('stores an idempotency key once even when a retry carries another timestamp, in another partition', async () => {
    const first = await recordUsage(
      t.db.orm.em.fork(),
      service,
      [event('u-retry', '2024-01-15T10:00:00Z', 'same')],
      NOW,
    );
    const retry = await recordUsage(
      t.db.orm.em.fork(),
      service,
      [event('u-retry', '2024-03-15T10:00:00Z', 'same', '99'), event('u-retry', '2024-03-15T10:00:00Z', 'other')],
      NOW,
    );
    expect(first).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(retry).toMatchObject({ accepted: 1, duplicates: 1 });
    const rows = await sql<{ key: string; month: string; quantity: string }>(
      `select idempotency_key as key, to_char(occurred_at at time zone 'UTC', 'YYYY-MM') as month,
              quantity::int::text as quantity
       from usage_records order by idempotency_key`,
    );
    expect(rows).toEqual([
      { key: 'other', month: '2024-03', quantity: '10' },
      { key: 'same', month: '2024-01', quantity: '10' },
    ]);
  });

  it('drops months past retention, refuses a month with unbilled usage, and detaches with keep', async () => {
    await recordUsage(
      t.db.orm.em.fork(),
      service,
      [
        event('u-jan', '2024-01-20T10:00:00Z', 'jan-1'),
        event('u-feb', '2024-02-20T10:00:00Z', 'feb-1'),
        event('u-feb', '2024-02-21T10:00:00Z', 'feb-2'),
        event('u-may', '2024-05-02T10:00:00Z', 'may-1'),
      ],
      NOW,
    );
    await bill('u-feb', '2024-02');

    // June 2024, keeping 2 months besides the current: January to March go; January has unbilled usage.
    const first = await applyUsageRetention(t.db.orm.em.fork(), { now: NOW, retentionMonths: 2, keep: false });
    expect(first).toEqual([
      { kind: 'refused', month: '2024-01', unbilledEvents: 1 },
      { kind: 'dropped', month: '2024-02' },
    ]);
    expect(await months()).toEqual(expect.arrayContaining(['2024-01', '2024-05']));
    expect(await months()).not.toContain('2024-02');
    expect(
      await sql(`select 1 from usage_records where occurred_at < '2024-03-01' and occurred_at >= '2024-02-01'`),
    ).toEqual([]);
    // What invoices and previews read stays: the day rollups of the month dropped.
    const daily = await getUsageDaily(t.db.orm.em.fork(), admin, { period: '2024-02', userId: 'u-feb' });
    expect(daily.metrics.flatMap((m) => m.days.map((d) => [d.date, Number(d.quantity)]))).toEqual([
      ['2024-02-20', 10],
      ['2024-02-21', 10],
    ]);
    // A retry of an event of the dropped month is still a duplicate.
    const retry = await recordUsage(
      t.db.orm.em.fork(),
      service,
      [event('u-feb', '2024-02-20T10:00:00Z', 'feb-1')],
      NOW,
    );
    expect(retry).toMatchObject({ accepted: 0, duplicates: 1 });
    // Its month was created again before the batch (a late event of it would be stored), and is left empty.
    expect(await months()).toContain('2024-02');

    await bill('u-jan', '2024-01');
    const second = await applyUsageRetention(t.db.orm.em.fork(), { now: NOW, retentionMonths: 2, keep: true });
    const detachedAs = `_detached_${NOW.getTime() / 1000}`;
    expect(second).toEqual([
      { kind: 'detached', month: '2024-01', table: `usage_records_p2024_01${detachedAs}` },
      { kind: 'detached', month: '2024-02', table: `usage_records_p2024_02${detachedAs}` },
    ]);
    expect(await months()).not.toContain('2024-01');
    expect(await sql(`select 1 from usage_records where idempotency_key = 'jan-1'`)).toEqual([]);
    expect(await sql(`select idempotency_key as key from usage_records_p2024_01${detachedAs}`)).toEqual([
      { key: 'jan-1' },
    ]);
    // Late usage of the detached month gets a partition of its own again, beside the archived table.
    const late = await recordUsage(t.db.orm.em.fork(), service, [event('u-jan', '2024-01-25T10:00:00Z', 'jan-2')], NOW);
    expect(late).toMatchObject({ accepted: 1, late: 1 });
    expect(await months()).toContain('2024-01');
  });
});

describe('the migration to monthly partitions', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createEmptyDatabase();
  });
  afterAll(() => t.drop());

  it('moves the stored events into their months, their keys into the guard, and their billing into claims', async () => {
    await t.db.orm.getMigrator().up({ to: 'Migration20261206040000' });
    const conn = t.db.orm.em.fork().getConnection();
    const customer = '00000000-0000-4000-8000-000000000001';
    const metric = '00000000-0000-4000-8000-0000000000aa';
    const [jan, feb] = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b'];
    await conn.execute(`insert into customers (id, external_user_id) values ('${customer}', 'u-1')`);
    await conn.execute(
      `insert into billable_metrics (id, code, name, unit) values ('${metric}', 'tokens', 'Tokens', 'token')`,
    );
    await conn.execute(
      `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency) values
       ('${jan}', 'A-1', '${customer}', '2024-01', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', 'OPEN', 'usd'),
       ('${feb}', 'A-2', '${customer}', '2024-02', '2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z', 'OPEN', 'usd')`,
    );
    // January: billed on January's invoice, then late events carried by February's, then one unbilled; February's.
    const events: Array<[string, string | null]> = [
      ['2024-01-03T00:00:00Z', jan],
      ['2024-01-04T00:00:00Z', jan],
      ['2024-02-02T00:00:00Z', feb],
      ['2024-01-30T00:00:00Z', feb],
      ['2024-01-05T00:00:00Z', jan],
      ['2024-01-31T00:00:00Z', null],
      ['2024-02-10T00:00:00Z', null],
    ];
    for (const [i, [at, invoice]] of events.entries()) {
      await conn.execute(
        `insert into usage_records (customer_id, metric_id, quantity, occurred_at, idempotency_key, billed_on_invoice_id)
         values ('${customer}', '${metric}', 1, '${at}', 'k${i}', ${invoice ? `'${invoice}'` : 'null'})`,
      );
    }
    const before = await conn.execute<Array<{ id: string; billed: string | null }>>(
      `select id::text as id, billed_on_invoice_id as billed from usage_records order by id`,
    );

    await migrate(t.db.orm);

    const after = await conn.execute<Array<{ id: string; billed: string | null }>>(
      `select id::text as id, ${billedOnSql('ur')} as billed from usage_records ur order by id`,
    );
    expect(after).toEqual(before);
    const placed = await conn.execute<Array<{ partition: string; n: string }>>(
      `select tableoid::regclass::text as partition, count(*)::text as n from usage_records group by 1 order by 1`,
    );
    expect(placed).toEqual([
      { partition: 'usage_records_p2024_01', n: '5' },
      { partition: 'usage_records_p2024_02', n: '2' },
    ]);
    expect(await conn.execute(`select count(*)::int as n from usage_idempotency_keys`)).toEqual([{ n: 7 }]);
    // The ids go on from the same sequence.
    await conn.execute(
      `insert into usage_records (customer_id, metric_id, quantity, occurred_at, idempotency_key)
       values ('${customer}', '${metric}', 1, '2024-02-11T00:00:00Z', 'k-new')`,
    );
    const [{ id }] = await conn.execute<Array<{ id: string }>>(
      `select id::text as id from usage_records where idempotency_key = 'k-new'`,
    );
    expect(Number(id)).toBe(Number(before[before.length - 1].id) + 1);
  });
});
