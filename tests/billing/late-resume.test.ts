import type Stripe from 'stripe';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { METADATA } from '../../src/stripe';
import {
  CreateInvoiceDocument,
  InvoiceDocument,
  InvoicesDocument,
  PayInvoiceDocument,
  ReconcileDocument,
} from '../generated/graphql';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';

type Op = Awaited<ReturnType<typeof operator>>;

const DAY_AND_AN_HOUR = 25 * 3600;

/**
 * Stripe forgets an idempotency key after 24 hours. Each case loses Stripe's answer to one write of createInvoice or
 * payInvoice (the emulator carries the write out, then drops the connection: what we see when our process dies right
 * after Stripe acted), moves the local Stripe's clock 25 h forward so every key has expired, and resumes by calling
 * the API again or by reconciliation. Webhooks are not delivered, so nothing but the resume itself can set things
 * right. Afterwards Stripe must hold one customer, one payable invoice whose total is ours, one e-mail, and paying
 * charges exactly our total.
 */
describe('resuming after Stripe has forgotten our idempotency keys', () => {
  let t: TestServer;
  let op: Op;

  beforeAll(async () => {
    // One lost answer is a lost attempt: without the SDK's retries (and their backoff) each case is quick.
    t = await startTestServer({ STRIPE_MAX_NETWORK_RETRIES: '0' });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
    // No webhook reaches the server: the resume alone must find what the lost attempt made.
    await t.control.setWebhookTarget(null);
  });
  afterEach(() => t.control.clearFaults());
  afterAll(() => t.close());

  /** Two metrics, so the invoice has two lines (two Stripe items): 1,234,567 input and 250,000 output tokens. */
  const usage = (userId: string) =>
    op.record([
      { userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' },
      { userId, metric: 'llm_output_tokens', quantity: '250000', occurredAt: '2024-01-16T10:00:00Z' },
    ]);

  const create = async (token: string) => {
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createInvoice;
  };
  const pay = async (token: string, invoiceId: string) => {
    const res = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId: 'pm_card_visa' }, { token });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.payInvoice;
  };
  const reconcile = async (dryRun = false) => {
    const res = await t.gql(ReconcileDocument, { period: '2024-01', dryRun }, { token: op.admin });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.reconcile;
  };
  const invoicesOf = async (token: string) =>
    (await t.gql(InvoicesDocument, {}, { token })).body.data!.invoices.edges.map((e) => e.node);
  const read = async (token: string, id: string) =>
    (await t.gql(InvoiceDocument, { id }, { token })).body.data!.invoice!;

  /** Every Stripe object of ours for this user, as Stripe holds them. */
  const stripeSide = async (userId: string) => {
    const customers = (await t.stripe.customers.list({ limit: 100 })).data.filter(
      (c) => c.metadata?.[METADATA.userId] === userId,
    );
    const invoices: Stripe.Invoice[] = [];
    for (const customer of customers) {
      invoices.push(...(await t.stripe.invoices.list({ customer: customer.id, limit: 100 })).data);
    }
    const sent = (await t.stripe.events.list({ type: 'invoice.sent', limit: 100 })).data.filter((e) =>
      invoices.some((i) => i.id === (e.data.object as Stripe.Invoice).id),
    );
    return { customers, invoices, live: invoices.filter((i) => i.status !== 'void' && i.status !== 'draft'), sent };
  };

  const lose = (path: string, skip = 0) => t.control.injectFault({ kind: 'lost-response', path, method: 'POST', skip });

  /** After the resume: one customer, one payable invoice with our total, e-mailed once, paid for exactly our total. */
  const expectWhole = async (userId: string, token: string, invoiceId: string) => {
    const ours = await read(token, invoiceId);
    expect(ours.status).toBe('OPEN');
    const before = await stripeSide(userId);
    expect(before.customers).toHaveLength(1);
    expect(before.live).toHaveLength(1);
    expect(before.live[0].metadata?.[METADATA.invoiceId]).toBe(invoiceId);
    expect(before.live[0].total).toBe(ours.amount.amountMinor);
    expect(before.live[0].lines.data).toHaveLength(ours.lines.length);
    expect(before.sent).toHaveLength(1);

    const paid = await pay(token, invoiceId);
    expect(paid).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    const after = (await t.stripe.invoices.retrieve(before.live[0].id, { expand: ['payments'] })) as Stripe.Invoice;
    expect(after.amount_paid).toBe(ours.amount.amountMinor);
    expect(after.payments?.data.filter((p) => p.status === 'paid')).toHaveLength(1);
    expect((await read(token, invoiceId)).amountPaid.amountMinor).toBe(ours.amount.amountMinor);
  };

  const CREATION_POINTS: Array<[string, string, number]> = [
    ['the customer', '^/v1/customers$', 0],
    ['the invoice', '^/v1/invoices$', 0],
    ['the first item', '^/v1/invoiceitems$', 0],
    ['the second item', '^/v1/invoiceitems$', 1],
    ['the finalization', '^/v1/invoices/[^/]+/finalize$', 0],
    ['the e-mail', '^/v1/invoices/[^/]+/send$', 0],
  ];

  describe.each([
    ['createInvoice', 'api'],
    ['reconciliation', 'reconcile'],
  ])('creation resumed by %s', (_by, by) => {
    it.each(CREATION_POINTS)('after losing the answer to %s', async (what, path, skip) => {
      const userId = `late-${by}-${what.replace(/\W+/g, '-')}`;
      await usage(userId);
      const token = await t.token(userId);
      await lose(path, skip);
      const first = await create(token);
      expect(first).toMatchObject({ __typename: 'PaymentProviderUnavailable' });
      await t.control.clearFaults();
      await t.control.advanceClock(DAY_AND_AN_HOUR);

      if (by === 'api') {
        const resumed = await create(token);
        expect(resumed).toMatchObject({ __typename: 'Invoice', status: 'OPEN' });
      } else {
        const report = await reconcile();
        expect(report.errors).toEqual([]);
      }
      const [invoice] = await invoicesOf(token);
      await expectWhole(userId, token, invoice.id);
    });
  });

  it.each([
    ['payInvoice', 'api'],
    ['reconciliation', 'reconcile'],
  ])('a payment whose answer was lost is settled by %s without a second charge', async (_by, by) => {
    const userId = `late-pay-${by}`;
    await usage(userId);
    const token = await t.token(userId);
    const created = await create(token);
    expect(created).toMatchObject({ __typename: 'Invoice', status: 'OPEN' });
    const invoiceId = created.__typename === 'Invoice' ? created.id : '';

    await lose('^/v1/invoices/[^/]+/pay$');
    expect(await pay(token, invoiceId)).toMatchObject({ __typename: 'PaymentProviderUnavailable' });
    await t.control.clearFaults();
    await t.control.advanceClock(DAY_AND_AN_HOUR);

    if (by === 'api') {
      expect(await pay(token, invoiceId)).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    } else {
      expect((await reconcile()).errors).toEqual([]);
    }
    const ours = await read(token, invoiceId);
    expect(ours.status).toBe('PAID');
    const { live } = await stripeSide(userId);
    expect(live).toHaveLength(1);
    const remote = (await t.stripe.invoices.retrieve(live[0].id, { expand: ['payments'] })) as Stripe.Invoice;
    expect(remote.amount_paid).toBe(ours.amount.amountMinor);
    expect(remote.payments?.data.filter((p) => p.status === 'paid')).toHaveLength(1);
    expect(ours.amountPaid.amountMinor).toBe(ours.amount.amountMinor);
  });
});
