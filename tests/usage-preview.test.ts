import { Role } from '../src/entities/enums';
import { recordUsage } from '../src/services/usage/record-usage.service';
import { aggregateUsage } from '../src/services/usage/usage-aggregation';
import { getUsageSummary } from '../src/services/usage/usage-summary.service';
import { billUsageOnInvoice } from '../src/services/usage/usage-repository';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import type { TestDatabase } from './helpers/database';
import { createTestDatabase } from './helpers/database';

/**
 * The preview reads the day rollups and reads events only on the days it must (distinct counts, days a price changes
 * within), in two statements. These pin what that must not lose: distinct counts wherever their events are billed.
 */
const service = { userId: 'platform', role: Role.SERVICE };
const NOW = new Date('2024-03-01T00:00:00Z');
const JAN = { key: '2024-01', start: new Date('2024-01-01T00:00:00Z'), end: new Date('2024-02-01T00:00:00Z') };

describe('usage preview reads', () => {
  let test: TestDatabase;
  const log: string[] = [];

  beforeAll(async () => {
    test = await createTestDatabase({ queryLog: (line) => log.push(line) });
    await seedDefaultCatalogue(test.db.orm.em.fork());
  });
  afterAll(() => test.drop());

  const customerOf = async (userId: string): Promise<string> =>
    (
      await test.db.orm.em
        .fork()
        .execute<Array<{ id: string }>>('select id from customers where external_user_id = ?', [userId])
    )[0].id;
  const agents = async (customerId: string, records: Parameters<typeof aggregateUsage>[1]['records']) =>
    (
      await aggregateUsage(test.db.orm.em.fork(), {
        customerId,
        currency: 'usd',
        from: JAN.start,
        to: JAN.end,
        records,
      })
    )
      .filter((s) => s.metricCode === 'active_agents')
      .map((s) => s.quantity);

  it('counts distinct values from the events of every bucket: unbilled, billed, and late after the invoice', async () => {
    const record = (events: Array<{ agentId: string; at: string; key: string }>) =>
      recordUsage(
        test.db.orm.em.fork(),
        service,
        events.map((e) => ({
          userId: 'dana',
          metric: 'active_agents',
          quantity: '1',
          agentId: e.agentId,
          occurredAt: e.at,
          idempotencyKey: e.key,
        })),
        NOW,
      );
    await record([
      { agentId: 'a', at: '2024-01-02T10:00:00Z', key: 'k1' },
      { agentId: 'b', at: '2024-01-02T11:00:00Z', key: 'k2' },
      { agentId: 'a', at: '2024-01-20T00:00:00Z', key: 'k3' },
      { agentId: 'c', at: '2024-01-31T23:59:59Z', key: 'k4' },
    ]);
    const dana = await customerOf('dana');
    expect(await agents(dana, { kind: 'forPeriod' })).toEqual(['3']);

    const invoiceId = '00000000-0000-4000-8000-0000000000d1';
    await test.db.orm.em.fork().transactional(async (tem) => {
      await tem.execute(
        `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency)
         values (?, 'AH-P-1', ?, ?, ?, ?, 'OPEN', 'usd')`,
        [invoiceId, dana, JAN.key, JAN.start, JAN.end],
      );
      await billUsageOnInvoice(tem, { invoiceId, customerId: dana, periodStart: JAN.start, periodEnd: JAN.end });
    });
    // Late: a new agent and a known one, on a day with billed events and on a day without.
    await record([
      { agentId: 'd', at: '2024-01-02T12:00:00Z', key: 'k5' },
      { agentId: 'a', at: '2024-01-05T00:00:00Z', key: 'k6' },
    ]);

    expect(await agents(dana, { kind: 'billedOn', invoiceId })).toEqual(['3']);
    expect(await agents(dana, { kind: 'billed' })).toEqual(['3']);
    expect(await agents(dana, { kind: 'all' })).toEqual(['4']);
    expect(await agents(dana, { kind: 'forPeriod' })).toEqual(['4']);
  });

  it('previews a customer without an invoice in two statements', async () => {
    await recordUsage(
      test.db.orm.em.fork(),
      service,
      [
        { userId: 'eve', metric: 'llm_input_tokens', quantity: '1000', occurredAt: '2024-01-03T00:00:00Z' },
        { userId: 'eve', metric: 'tool_calls', quantity: '1', occurredAt: '2024-01-04T00:00:00Z' },
        { userId: 'eve', metric: 'active_agents', quantity: '1', agentId: 'x', occurredAt: '2024-01-04T00:00:00Z' },
      ].map((e, i) => ({ ...e, idempotencyKey: `e${i}` })),
      NOW,
    );
    log.length = 0;
    const summary = await getUsageSummary(test.db.orm.em.fork(), service, { period: JAN.key, userId: 'eve' }, 'usd');
    expect(summary.lines.map((l) => [l.metricCode, l.quantity])).toEqual([
      ['active_agents', '1'],
      ['llm_input_tokens', '1000'],
      ['tool_calls', '1'],
    ]);
    expect(log).toHaveLength(2);
  });
});
