import { seedDefaultCatalogue } from '../src/services/seed-catalogue.service';
import { CreateInvoiceDocument, InvoiceDocument, PayInvoiceDocument } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';
import { waitFor } from './webhooks/fixtures';

type Op = Awaited<ReturnType<typeof operator>>;

/**
 * Races between cancelInvoice and the calls that write the same invoice to Stripe (createInvoice, payInvoice),
 * driven through the public API with the emulator holding one Stripe request back.
 */
describe('cancelInvoice racing createInvoice and payInvoice', () => {
  let t: TestServer;
  let op: Op;

  const usage = (userId: string) =>
    op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
  const create = async (token: string) => {
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createInvoice;
  };
  const createOpen = async (userId: string) => {
    await usage(userId);
    const result = await create(await t.token(userId));
    if (result.__typename !== 'InvoiceType') {
      throw new Error(`expected an invoice, got ${JSON.stringify(result)}`);
    }
    return result;
  };
  const pay = async (token: string, invoiceId: string) => {
    const res = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId: 'pm_card_visa' }, { token });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.payInvoice;
  };
  const read = async (token: string, id: string) =>
    (await t.gql(InvoiceDocument, { id }, { token })).body.data!.invoice;
  const stripeInvoicesOf = async (...invoiceIds: string[]) =>
    (await t.stripe.invoices.list({ limit: 100 })).data.filter((i) =>
      invoiceIds.includes(i.metadata?.agenthub_invoice_id ?? ''),
    );
  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
  });
  afterEach(() => t.control.clearFaults());
  afterAll(() => t.close());

  it('pays an UNCOLLECTIBLE invoice', async () => {
    const invoice = await createOpen('r-uncollectible');
    const token = await t.token('r-uncollectible');
    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    await t.stripe.invoices.markUncollectible(stripeInvoice.id);
    await waitFor(
      async () => (await read(token, invoice.id)).status === 'UNCOLLECTIBLE',
      10_000,
      'the webhook to mark it UNCOLLECTIBLE',
    );
    expect(await pay(token, invoice.id)).toMatchObject({
      __typename: 'InvoiceType',
      status: 'PAID',
      isPaid: true,
      amountPaid: { amountMinor: 247 },
    });
    expect((await stripeInvoicesOf(invoice.id))[0]).toMatchObject({ status: 'paid', amount_paid: 247 });
    expect((await read(token, invoice.id)).statusHistory.map((h) => h.to)).toEqual([
      'DRAFT',
      'OPEN',
      'UNCOLLECTIBLE',
      'PAID',
    ]);
  });
});
