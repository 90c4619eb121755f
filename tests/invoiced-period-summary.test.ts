import { Role } from '../src/entities/enums';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { CancelInvoiceDocument, CreateInvoiceDocument, UsageSummaryDocument } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';

/** usageSummary of an invoiced period is that invoice, whatever late usage or voids happen afterwards. */
describe('usageSummary of an invoiced period', () => {
  let t: TestServer;
  let admin: string;
  let op: Awaited<ReturnType<typeof operator>>;
  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    admin = await t.token('ops', Role.ADMIN);
    op = await operator(t);
  });
  afterAll(() => t.close());

  const minutes = (userId: string, quantity: string, occurredAt: string) =>
    op.record([{ userId, metric: 'agent_runtime_minutes', quantity, occurredAt }]);
  const invoice = async (userId: string, period: string) => {
    const res = await t.gql(CreateInvoiceDocument, { period, userId }, { token: admin });
    const created = res.body.data!.createInvoice;
    if (created.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(created)}`);
    }
    return created;
  };
  const summary = async (userId: string, period: string) =>
    (await t.gql(UsageSummaryDocument, { period, userId }, { token: admin })).body.data!.usageSummary;

  it('equals its invoice: late usage is the next invoice’s, and voiding the earlier invoice changes neither', async () => {
    await minutes('sum-1', '1335', '2024-06-10T00:00:00Z');
    const june = await invoice('sum-1', '2024-06');
    await minutes('sum-1', '100', '2024-06-20T00:00:00Z'); // late for June
    await minutes('sum-1', '50', '2024-07-05T00:00:00Z');
    const july = await invoice('sum-1', '2024-07');

    expect((await summary('sum-1', '2024-06')).subtotal.amountMinor).toBe(june.amount.amountMinor);
    const julySummary = await summary('sum-1', '2024-07');
    expect(julySummary.subtotal.amountMinor).toBe(july.amount.amountMinor);
    expect(julySummary.latePeriods).toEqual(['2024-06']);
    expect(julySummary.lines.map((l) => l.kind).sort()).toEqual(['ADJUSTMENT', 'USAGE']);

    const cancelled = await t.gql(CancelInvoiceDocument, { invoiceId: june.id }, { token: admin });
    expect(cancelled.body.data?.cancelInvoice).toMatchObject({ status: 'VOID' });
    // July's invoice is unchanged, so is its summary.
    expect((await summary('sum-1', '2024-07')).subtotal.amountMinor).toBe(july.amount.amountMinor);
  });
});
