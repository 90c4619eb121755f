import type Stripe from 'stripe';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, InvoiceDocument, PayInvoiceDocument } from '../generated/graphql';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';

/**
 * An invoice whose total is above zero but below Stripe's minimum charge (0.50 USD): Stripe does not charge it. It
 * marks it paid as it finalizes it and carries the amount to the customer's balance, where the next invoice takes it
 * in (https://docs.stripe.com/billing/customer/balance). Our invoice is PAID at once with nothing paid, never stuck
 * OPEN waiting for a payment Stripe would refuse.
 */
describe('an invoice below the minimum charge', () => {
  let t: TestServer;
  let op: Awaited<ReturnType<typeof operator>>;

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
  });
  afterAll(() => t.close());

  const stripeInvoiceOf = async (invoiceId: string): Promise<Stripe.Invoice> => {
    const [found] = (await t.stripe.invoices.list({ limit: 100 })).data.filter(
      (i) => i.metadata?.agenthub_invoice_id === invoiceId,
    );
    return found;
  };

  it('is PAID as it is created, with nothing paid and nothing remaining; Stripe carries it to the balance', async () => {
    const userId = 'below-min';
    // 100,000 input tokens: 0.20 USD.
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '100000', occurredAt: '2024-01-15T10:00:00Z' }]);
    const token = await t.token(userId);
    const created = (await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token })).body.data!.createInvoice;
    if (created.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(created)}`);
    }
    expect(created.amount.amountMinor).toBeGreaterThan(0);
    expect(created.amount.amountMinor).toBeLessThan(50);
    expect(created).toMatchObject({ status: 'PAID', isPaid: true, amountPaid: { amountMinor: 0 } });
    expect(created.statusHistory.map((c) => [c.from, c.to])).toEqual([
      [null, 'DRAFT'],
      ['DRAFT', 'OPEN'],
      ['OPEN', 'PAID'],
    ]);
    expect(created.statusHistory.at(-1)?.reason).toMatch(/below the minimum charge/);

    const remote = await stripeInvoiceOf(created.id);
    expect(remote).toMatchObject({
      status: 'paid',
      amount_due: 0,
      amount_paid: 0,
      ending_balance: created.amount.amountMinor,
    });
    const customer = (await t.stripe.customers.retrieve(remote.customer as string)) as Stripe.Customer;
    expect(customer.balance).toBe(created.amount.amountMinor);
    expect((await t.stripe.customers.listBalanceTransactions(customer.id)).data.map((x) => x.type)).toEqual([
      'invoice_too_small',
    ]);

    // Paying it is refused as already paid: nothing is charged, and the webhooks that follow change nothing.
    const pay = await t.gql(PayInvoiceDocument, { invoiceId: created.id, paymentMethodId: 'pm_card_visa' }, { token });
    expect(pay.body.data?.payInvoice).toMatchObject({ __typename: 'InvoiceStateError', status: 'PAID' });
    await t.control.waitForWebhooks();
    const read = (await t.gql(InvoiceDocument, { id: created.id }, { token })).body.data!.invoice;
    expect(read).toMatchObject({ status: 'PAID', amountPaid: { amountMinor: 0 } });
    expect((await t.stripe.charges.list({ customer: customer.id })).data).toEqual([]);
  });
});
