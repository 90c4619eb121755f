import fc from 'fast-check';
import { PriceModel, Role } from '../src/entities/enums';
import { UNBILLED_BUCKET } from '../src/entities/usage-rollup.entity';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { aggregateUsage } from '../src/services/usage/usage-aggregation';
import { getUsageDaily } from '../src/services/usage/usage-daily.service';
import { billUsageOnInvoice, billedOnSql, unbillUsageOfInvoice } from '../src/services/usage/usage-repository';
import { setPrice } from '../src/services/usage/price-book.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import type { TestDatabase } from './helpers/database';
import { createTestDatabase } from './helpers/database';

/**
 * The day rollups are what previews and invoices read, so they must always equal aggregating the events: after any
 * sequence of batches (duplicates within and across them), billing a period (which moves its events, and late events
 * of earlier invoiced periods, to the invoice's bucket), voiding (which moves them back) and late events.
 */
const service = { userId: 'platform', role: Role.SERVICE };
const admin = { userId: 'admin-1', role: Role.ADMIN };
const NOW = new Date('2024-04-01T00:00:00Z');
const METRICS = ['llm_input_tokens', 'tool_calls', 'storage_gb_hours'] as const;
// A price of llm_input_tokens changes at noon on 10 January: that day cannot be read from one rollup row.
const PRICE_CHANGE = new Date('2024-01-10T12:00:00Z');
const MONTHS = [
  { key: '2024-01', start: new Date('2024-01-01T00:00:00Z'), end: new Date('2024-02-01T00:00:00Z') },
  { key: '2024-02', start: new Date('2024-02-01T00:00:00Z'), end: new Date('2024-03-01T00:00:00Z') },
];

const eventArb = fc.record({
  user: fc.constantFrom('a', 'b'),
  key: fc.integer({ min: 0, max: 15 }),
  metric: fc.constantFrom(...METRICS),
  quantity: fc.constantFrom('1', '3.5', '1000', '0.000000000001'),
  // Around the price change and the month's edges: 1 Jan 00:00, 10 Jan before and after noon, 31 Jan 23:59, Feb.
  at: fc.constantFrom(
    '2024-01-01T00:00:00Z',
    '2024-01-10T11:59:59.999Z',
    '2024-01-10T12:00:00Z',
    '2024-01-10T23:00:00+02:00',
    '2024-01-31T23:59:59Z',
    '2024-02-14T08:00:00Z',
  ),
});
const stepArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('ingest' as const), events: fc.array(eventArb, { maxLength: 8 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bill' as const),
      user: fc.constantFrom('a', 'b'),
      month: fc.constantFrom(0, 1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), user: fc.constantFrom('a', 'b') }) },
);

describe('usage rollups', () => {
  let test: TestDatabase;
  let run = 0;
  let invoiceSeq = 0;

  beforeAll(async () => {
    test = await createTestDatabase();
    await seedDefaultCatalogue(test.db.orm.em.fork());
    // The seeded price (from 1 January) is closed at noon on 10 January by a new version.
    await setPrice(
      test.db.orm.em.fork(),
      admin,
      {
        metric: 'llm_input_tokens',
        currency: 'usd',
        model: PriceModel.PER_UNIT,
        unitAmount: '0.002',
        effectiveFrom: PRICE_CHANGE,
      },
      NOW,
    );
  });
  afterAll(() => test.drop());

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> =>
    test.db.orm.em.fork().execute<T[]>(text, params);

  it('equal aggregating the events after batches, duplicates, billing, voiding and late events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), async (steps) => {
        run += 1;
        const userId = (user: string): string => `r${run}-${user}`;
        const customerOf = async (user: string): Promise<string | undefined> =>
          (await sql<{ id: string }>('select id from customers where external_user_id = ?', [userId(user)]))[0]?.id;
        /** The open (not VOID) invoices of this run, per user and month. */
        const open = new Map<string, string>();
        for (const step of steps) {
          if (step.kind === 'ingest') {
            await recordUsage(
              test.db.orm.em.fork(),
              service,
              step.events.map((e) => ({
                userId: userId(e.user),
                metric: e.metric,
                quantity: e.metric === 'tool_calls' ? '1' : e.quantity,
                occurredAt: e.at,
                idempotencyKey: `k${e.key}`,
              })),
              NOW,
            );
          } else if (step.kind === 'bill') {
            const customerId = await customerOf(step.user);
            const month = MONTHS[step.month];
            if (!customerId || open.has(`${step.user}/${month.key}`)) {
              continue;
            }
            invoiceSeq += 1;
            const invoiceId = `00000000-0000-4000-8000-${String(invoiceSeq).padStart(12, '0')}`;
            await test.db.orm.em.fork().transactional(async (tem) => {
              await tem.execute(
                `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency)
                 values (?, ?, ?, ?, ?, ?, 'OPEN', 'usd')`,
                [invoiceId, `AH-T-${invoiceSeq}`, customerId, month.key, month.start, month.end],
              );
              await billUsageOnInvoice(tem, { invoiceId, customerId, periodStart: month.start, periodEnd: month.end });
            });
            open.set(`${step.user}/${month.key}`, invoiceId);
          } else {
            const entry = [...open.entries()].find(([k]) => k.startsWith(`${step.user}/`));
            if (!entry) {
              continue;
            }
            await test.db.orm.em.fork().transactional(async (tem) => {
              await tem.execute(`update invoices set status = 'VOID' where id = ?`, [entry[1]]);
              await unbillUsageOfInvoice(tem, entry[1]);
            });
            open.delete(entry[0]);
          }
        }

        const customers = `(select id from customers where external_user_id like '${`r${run}-%`}')`;
        const rollups = await sql<Record<string, string>>(
          `select customer_id, metric_id, day::text as day, bucket, events::text as events,
                  quantity_sum::text as sum, quantity_max::text as max, first_at::text as first_at
           from usage_rollups where customer_id in ${customers} order by 1, 2, 3, 4`,
        );
        const fromEvents = await sql<Record<string, string>>(
          `select customer_id, metric_id, ((occurred_at at time zone 'UTC')::date)::text as day,
                  coalesce(billed_on, '${UNBILLED_BUCKET}') as bucket, count(*)::text as events,
                  sum(quantity)::text as sum, max(quantity)::text as max, min(occurred_at)::text as first_at
           from (select ur.*, ${billedOnSql('ur')} as billed_on from usage_records ur) ur
           where customer_id in ${customers} group by 1, 2, 3, 4 order by 1, 2, 3, 4`,
        );
        expect(rollups).toEqual(fromEvents);

        // What previews and invoices read, against the events priced one by one.
        for (const user of ['a', 'b']) {
          const customerId = await customerOf(user);
          if (!customerId) {
            continue;
          }
          for (const month of MONTHS) {
            const segments = await aggregateUsage(test.db.orm.em.fork(), {
              customerId,
              currency: 'usd',
              from: month.start,
              to: month.end,
              records: { kind: 'all' },
            });
            const expected = await sql<{ code: string; price: string | null; quantity: string }>(
              `select m.code, (select p.id from prices p
                               where p.metric_id = ur.metric_id and p.currency = 'usd' and p.customer_id is null
                                 and p.effective_from <= ur.occurred_at
                                 and (p.effective_to is null or ur.occurred_at < p.effective_to)) as price,
                      (case m.aggregation when 'count' then count(*) else sum(ur.quantity) end)::text as quantity
               from usage_records ur join billable_metrics m on m.id = ur.metric_id
               where ur.customer_id = ? and ur.occurred_at >= ? and ur.occurred_at < ?
               group by m.code, m.aggregation, 2`,
              [customerId, month.start, month.end],
            );
            const got = segments.map((s) => ({
              code: s.metricCode,
              price: s.price?.id ?? null,
              quantity: Number(s.quantity),
            }));
            const want = expected.map((e) => ({ code: e.code, price: e.price, quantity: Number(e.quantity) }));
            const order = (a: { code: string; price: string | null }, b: { code: string; price: string | null }) =>
              `${a.code}/${a.price}`.localeCompare(`${b.code}/${b.price}`);
            expect(got.sort(order)).toEqual(want.sort(order));

            const daily = await getUsageDaily(test.db.orm.em.fork(), admin, {
              period: month.key,
              userId: userId(user),
            });
            const dailyExpected = await sql<{ code: string; day: string; quantity: string }>(
              `select m.code, to_char(ur.occurred_at at time zone 'UTC', 'YYYY-MM-DD') as day,
                      (case m.aggregation when 'count' then count(*) else sum(ur.quantity) end)::text as quantity
               from usage_records ur join billable_metrics m on m.id = ur.metric_id
               where ur.customer_id = ? and ur.occurred_at >= ? and ur.occurred_at < ?
               group by m.code, m.aggregation, 2 order by 1, 2`,
              [customerId, month.start, month.end],
            );
            expect(
              daily.metrics.flatMap((m) => m.days.map((d) => ({ code: m.code, day: d.date, q: Number(d.quantity) }))),
            ).toEqual(dailyExpected.map((e) => ({ code: e.code, day: e.day, q: Number(e.quantity) })));
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});
