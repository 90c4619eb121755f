import { Role } from '../src/entities/enums';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import {
  BillingStatsDocument,
  CancelInvoiceDocument,
  CreateInvoiceDocument,
  PayInvoiceDocument,
} from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';

/**
 * billingStats over GraphQL as an admin reads it, against sums computed here from the rows the same server wrote:
 * invoices paid, declined, left open and voided in one period, and another period kept apart.
 */
describe('billingStats: a period’s invoiced, paid and outstanding amounts, equal to the rows', () => {
  let t: TestServer;
  let admin: string;

  const invoiceFor = async (userId: string, period: string, quantity: string): Promise<string> => {
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity, occurredAt: `${period}-12T10:00:00Z` }]);
    await op.record([{ userId, metric: 'tool_calls', quantity: '40', occurredAt: `${period}-13T10:00:00Z` }]);
    const res = await t.gql(CreateInvoiceDocument, { period }, { token: await t.token(userId, Role.USER) });
    const invoice = res.body.data!.createInvoice;
    if (invoice.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(invoice)}`);
    }
    return invoice.id;
  };
  const pay = async (userId: string, invoiceId: string, paymentMethodId: string) => {
    const res = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId }, { token: await t.token(userId) });
    return res.body.data!.payInvoice.__typename;
  };
  const stats = async (period: string, currency = 'usd', token = admin) => {
    const res = await t.gql(BillingStatsDocument, { period, currency }, { token });
    return res.body;
  };
  const rows = <T>(sql: string, params: unknown[]): Promise<T[]> =>
    t.database.db.orm.em.fork().getConnection().execute<T[]>(sql, params);

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    admin = await t.token('ops', Role.ADMIN);
    // 2024-03: one paid, one declined then paid, one declined and left owing, one left open, one voided.
    const paid = await invoiceFor('s-paid', '2024-03', '1000000');
    expect(await pay('s-paid', paid, 'pm_card_visa')).toBe('Invoice');
    const retried = await invoiceFor('s-retried', '2024-03', '2000000');
    expect(await pay('s-retried', retried, 'pm_card_chargeDeclinedInsufficientFunds')).toBe('PaymentDeclined');
    expect(await pay('s-retried', retried, 'pm_card_visa')).toBe('Invoice');
    const owing = await invoiceFor('s-owing', '2024-03', '3000000');
    expect(await pay('s-owing', owing, 'pm_card_chargeDeclinedInsufficientFunds')).toBe('PaymentDeclined');
    await invoiceFor('s-open', '2024-03', '4000000');
    const voided = await invoiceFor('s-void', '2024-03', '5000000');
    const cancelled = await t.gql(
      CancelInvoiceDocument,
      { invoiceId: voided, reason: 'test: issued by mistake' },
      { token: admin },
    );
    expect(cancelled.body.errors).toBeUndefined();
    // Another period, which must not count.
    await invoiceFor('s-later', '2024-04', '9000000');
  });
  afterAll(() => t?.close());

  it('sums the period’s issued invoices as the rows say, voided and other periods left out', async () => {
    const { data, errors } = await stats('2024-03');
    expect(errors).toBeUndefined();
    const [expected] = await rows<{ count: string; invoiced: string; paid: string; owed: string; paid_count: string }>(
      `select count(*) as count, sum(total_minor) as invoiced,
              sum(amount_paid_minor) filter (where status = 'PAID') as paid,
              count(*) filter (where status = 'PAID') as paid_count,
              sum(total_minor - amount_paid_minor) filter (where status in ('OPEN', 'PAYMENT_FAILED')) as owed
         from invoices where period = ? and currency = 'usd' and status not in ('DRAFT', 'VOID')`,
      ['2024-03'],
    );
    const byMetric = await rows<{ code: string; amount: string }>(
      `select m.code, sum(l.amount_minor) as amount from invoice_lines l
         join invoices i on i.id = l.invoice_id join billable_metrics m on m.id = l.metric_id
        where i.period = ? and i.status not in ('DRAFT', 'VOID') group by m.code`,
      ['2024-03'],
    );
    const s = data!.billingStats;
    expect(s).toMatchObject({ period: '2024-03', currency: 'usd', invoiceCount: 4, paidCount: 2 });
    expect(Number(expected.count)).toBe(4);
    expect(s.invoiced.amountMinor).toBe(Number(expected.invoiced));
    expect(s.paid.amountMinor).toBe(Number(expected.paid));
    expect(s.paidCount).toBe(Number(expected.paid_count));
    expect(s.outstanding.amountMinor).toBe(Number(expected.owed));
    expect(s.invoiced.amountMinor).toBe(s.paid.amountMinor + s.outstanding.amountMinor);
    expect(s.uncollectible.amountMinor).toBe(0);
    expect(s.refunded.amountMinor).toBe(0);
    // Four attempts on the period's issued invoices: two succeeded, two declined.
    expect(s.paymentSuccessRate).toBe(0.5);
    expect(s.averageDaysToPay).toBeGreaterThanOrEqual(0);
    expect(Object.fromEntries(s.revenueByMetric.map((row) => [row.metricCode, row.amount.amountMinor]))).toEqual(
      Object.fromEntries(byMetric.map((row) => [row.code, Number(row.amount)])),
    );
    const amounts = s.revenueByMetric.map((row) => row.amount.amountMinor);
    expect(amounts).toEqual([...amounts].sort((a, b) => b - a));
  });

  it('answers an empty period with zeros and nulls, and refuses users and bad input with typed errors', async () => {
    const empty = (await stats('2019-01')).data!.billingStats;
    expect(empty).toMatchObject({ invoiceCount: 0, paidCount: 0, paymentSuccessRate: null, averageDaysToPay: null });
    expect(empty.invoiced.amountMinor).toBe(0);
    expect(empty.revenueByMetric).toEqual([]);

    const user = await stats('2024-03', 'usd', await t.token('s-paid', Role.USER));
    expect(user.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const badPeriod = await stats('2024-13');
    expect(badPeriod.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const badCurrency = await stats('2024-03', 'xyz');
    expect(badCurrency.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(badCurrency.errors?.[0]?.message).toMatch(/currency/);
  });
});
