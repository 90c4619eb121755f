import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import {
  CancelInvoiceDocument,
  CreateInvoiceDocument,
  InvoiceDocument,
  InvoicesDocument,
  PayInvoiceDocument,
} from './generated/graphql';
import { ManualClock } from './helpers/clock';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';
import { waitFor } from './webhooks/fixtures';

type Op = Awaited<ReturnType<typeof operator>>;

/**
 * Races between cancelInvoice and the calls that write the same invoice to Stripe (createInvoice, payInvoice),
 * driven through the public API with the local Stripe holding one request back (a `hold` fault): the test acts once
 * the request is held, then releases it, so the race is the same however fast the machine runs.
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
    if (result.__typename !== 'Invoice') {
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
  const rest = async (path: string, token: string, json?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}) },
      body: json ? JSON.stringify(json) : undefined,
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- asserted field by field
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
  });
  afterEach(() => t.control.clearFaults());
  afterAll(() => t.close());

  /** Stripe holds the next void until released: a payment gets in first. */
  const holdVoid = () => t.control.holdRequests({ path: '^/v1/invoices/[^/]+/void$', method: 'POST', count: 1 });

  /** The caller's only invoice (the DRAFT being created). */
  const onlyInvoice = async (token: string) => {
    const edges = (await t.gql(InvoicesDocument, {}, { token })).body.data!.invoices.edges;
    expect(edges).toHaveLength(1);
    return edges[0].node;
  };

  /**
   * Holds one Stripe request of createInvoice, cancels the DRAFT while Stripe holds it, releases it, then checks
   * that Stripe holds nothing payable for the VOID row and that invoicing again bills the usage once.
   */
  const raceCreateWithCancel = async (userId: string, faultPath: string) => {
    await usage(userId);
    const token = await t.token(userId);
    const hold = await t.control.holdRequests({ path: faultPath, method: 'POST', count: 1 });
    const creating = t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    await t.control.waitForHeld(hold.id);
    const draft = await onlyInvoice(token);
    // Still a DRAFT, unless the held request is the send: then it was opened already.
    expect(['DRAFT', 'OPEN']).toContain(draft.status);

    const cancel = await t.gql(CancelInvoiceDocument, { invoiceId: draft.id, reason: 'changed my mind' }, { token });
    expect(cancel.body.data?.cancelInvoice).toMatchObject({ __typename: 'Invoice', status: 'VOID' });

    await t.control.release(hold.id);
    const created = await creating;
    expect((await read(token, draft.id)).status).toBe('VOID');
    // Stripe holds nothing payable for the VOID row (its draft was deleted, or it was voided).
    const leftovers = await stripeInvoicesOf(draft.id);
    expect(leftovers.filter((i) => i.status !== 'void').map((i) => i.status)).toEqual([]);
    // The creation learned of the cancel and says so instead of finishing the invoice.
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data?.createInvoice).toMatchObject({
      __typename: 'InvoiceStateError',
      code: 'INVALID_INVOICE_STATE',
      status: 'VOID',
      message: expect.stringMatching(/cancelled while it was being created/),
    });

    // Invoicing the period again bills the released usage exactly once.
    const again = await create(token);
    expect(again).toMatchObject({ __typename: 'Invoice', status: 'OPEN', amount: { amountMinor: 247 } });
    const againId = again.__typename === 'Invoice' ? again.id : '';
    const open = (await stripeInvoicesOf(draft.id, againId)).filter((i) => i.status === 'open');
    expect(open.map((i) => i.metadata?.agenthub_invoice_id)).toEqual([againId]);
    expect(await pay(token, againId)).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    expect((await read(token, draft.id)).status).toBe('VOID');
  };

  it.each([
    ['the Stripe invoice is being created', 'r-cancel-at-create', '^/v1/invoices$'],
    ['the Stripe invoice is being finalized', 'r-cancel-at-finalize', '^/v1/invoices/[^/]+/finalize$'],
    ['the Stripe invoice is being sent', 'r-cancel-at-send', '^/v1/invoices/[^/]+/send$'],
  ])(
    'cancelling a DRAFT while %s leaves nothing payable in Stripe and bills the usage once',
    async (_when, userId, faultPath) => {
      await raceCreateWithCancel(userId, faultPath);
    },
  );

  it('over REST, a creation cancelled midway answers 409 invalid_state (void)', async () => {
    await usage('r-create-rest');
    const token = await t.token('r-create-rest');
    const hold = await t.control.holdRequests({ path: '^/v1/invoices/[^/]+/finalize$', method: 'POST', count: 1 });
    const creating = rest('/api/v1/billing/invoice/2024-01/create?user_id=r-create-rest', token);
    await t.control.waitForHeld(hold.id);
    const draft = await onlyInvoice(token);
    const cancel = await rest(`/api/v1/billing/invoice/${draft.id}/cancel?user_id=r-create-rest`, token);
    expect(cancel).toMatchObject({ status: 200, body: { success: true, status: 'void' } });
    await t.control.release(hold.id);
    const created = await creating;
    expect(created.status).toBe(409);
    expect(created.body).toMatchObject({
      success: false,
      error: { code: 'invalid_state', status: 'void', invoice_id: draft.id },
    });
    expect((await stripeInvoicesOf(draft.id)).filter((i) => i.status !== 'void')).toEqual([]);
  });

  it('a cancel whose Stripe void loses to a payment answers InvoiceStateError (paid) and the invoice is PAID', async () => {
    const invoice = await createOpen('r-cancel-pay');
    const token = await t.token('r-cancel-pay');
    const hold = await holdVoid();
    const cancelling = t.gql(CancelInvoiceDocument, { invoiceId: invoice.id }, { token });
    await t.control.waitForHeld(hold.id);
    expect(await pay(token, invoice.id)).toMatchObject({ __typename: 'Invoice', status: 'PAID' });

    await t.control.release(hold.id);
    const cancel = await cancelling;
    expect(cancel.body.errors).toBeUndefined();
    expect(cancel.body.data?.cancelInvoice).toMatchObject({
      __typename: 'InvoiceStateError',
      code: 'INVALID_INVOICE_STATE',
      status: 'PAID',
      message: expect.stringMatching(/paid/),
    });
    expect(await read(token, invoice.id)).toMatchObject({
      status: 'PAID',
      isPaid: true,
      amountPaid: { amountMinor: 247 },
    });
    expect((await stripeInvoicesOf(invoice.id))[0]).toMatchObject({ status: 'paid', amount_paid: 247 });
  });

  it('applies a payment made on Stripe (hosted page) that beat the void, before its webhook arrives', async () => {
    const invoice = await createOpen('r-cancel-hosted');
    const token = await t.token('r-cancel-hosted');
    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    // Webhooks are held back (longer than the test lasts), so only the cancel can tell our row that Stripe was paid.
    await t.control.setWebhookMode({ delayMs: 60_000 });
    try {
      const hold = await holdVoid();
      const cancelling = t.gql(CancelInvoiceDocument, { invoiceId: invoice.id }, { token });
      await t.control.waitForHeld(hold.id);
      await t.stripe.invoices.pay(stripeInvoice.id, { payment_method: 'pm_card_visa' });
      await t.control.release(hold.id);
      const cancel = await cancelling;
      expect(cancel.body.errors).toBeUndefined();
      expect(cancel.body.data?.cancelInvoice).toMatchObject({ __typename: 'InvoiceStateError', status: 'PAID' });
      const row = await read(token, invoice.id);
      expect(row).toMatchObject({ status: 'PAID', isPaid: true, amountPaid: { amountMinor: 247 } });
      // DRAFT → OPEN may come from createInvoice or the invoice.finalized webhook; OPEN → PAID is the cancel's.
      expect(row.statusHistory.map((h) => [h.from, h.to])).toEqual([
        [null, 'DRAFT'],
        ['DRAFT', 'OPEN'],
        ['OPEN', 'PAID'],
      ]);
      expect(row.statusHistory[2]).toMatchObject({ source: 'API', reason: 'paid in Stripe before it could be voided' });
    } finally {
      await t.control.setWebhookMode({ delayMs: 0 });
    }
  });

  it('over REST, the same race answers 409 invalid_state saying it was paid', async () => {
    const invoice = await createOpen('r-cancel-rest');
    const token = await t.token('r-cancel-rest');
    const hold = await holdVoid();
    const cancelling = rest(`/api/v1/billing/invoice/${invoice.id}/cancel?user_id=r-cancel-rest`, token);
    await t.control.waitForHeld(hold.id);
    const paid = await rest(`/api/v1/billing/invoice/${invoice.id}/pay`, token, {
      payment_method_id: 'pm_card_visa',
      user_id: 'r-cancel-rest',
    });
    expect(paid.status).toBe(200);
    await t.control.release(hold.id);
    const cancel = await cancelling;
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({
      success: false,
      error: { code: 'invalid_state', status: 'paid', message: expect.stringMatching(/paid/) },
    });
    expect((await read(token, invoice.id)).status).toBe('PAID');
  });

  it('pays an UNCOLLECTIBLE invoice', async () => {
    const invoice = await createOpen('r-uncollectible');
    const token = await t.token('r-uncollectible');
    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    await t.stripe.invoices.markUncollectible(stripeInvoice.id);
    await waitFor(
      async () => (await read(token, invoice.id)).status === 'UNCOLLECTIBLE',
      undefined,
      'the webhook to mark it UNCOLLECTIBLE',
    );
    expect(await pay(token, invoice.id)).toMatchObject({
      __typename: 'Invoice',
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

  it('learns of a void made in Stripe before its webhook: create and pay answer VOID and the usage is free again', async () => {
    await usage('r-dash-void');
    const token = await t.token('r-dash-void');
    await t.control.setWebhookMode({ delayMs: 60_000 }); // the webhooks would tell us; here they are late
    try {
      const hold = await t.control.holdRequests({ path: '^/v1/invoices/[^/]+/send$', method: 'POST', count: 1 });
      const creating = t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
      await t.control.waitForHeld(hold.id); // finalized (the row is OPEN), being e-mailed
      const [row] = await t.database.db.orm.em.fork().execute<Array<{ stripe_invoice_id: string; status: string }>>(
        `select i.stripe_invoice_id, i.status from invoices i join customers c on c.id = i.customer_id
           where c.external_user_id = 'r-dash-void'`,
      );
      expect(row.status).toBe('OPEN');
      await t.stripe.invoices.voidInvoice(row.stripe_invoice_id); // an operator, in the Stripe dashboard
      await t.control.release(hold.id);
      const created = (await creating).body.data!.createInvoice;
      expect(created).toMatchObject({ __typename: 'InvoiceStateError', status: 'VOID' });
      const again = await create(token);
      expect(again).toMatchObject({ __typename: 'Invoice', status: 'OPEN', amount: { amountMinor: 247 } });

      // Pay refused by Stripe for the same reason: the row follows Stripe at once.
      await t.stripe.invoices.voidInvoice((await stripeInvoicesOf((again as { id: string }).id))[0].id);
      const paid = await pay(token, (again as { id: string }).id);
      expect(paid).toMatchObject({ __typename: 'InvoiceStateError', status: 'VOID' });
    } finally {
      await t.control.setWebhookMode({ delayMs: 0 });
    }
  });
});

describe('a payment whose outcome never came back', () => {
  // The server's clock moves only when the test moves it: "two minutes later" takes no time.
  const clock = new ManualClock();
  let t: TestServer;
  let op: Op;
  beforeAll(async () => {
    t = await startTestServer({}, { clock });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
  });
  afterEach(() => t.control.clearFaults());
  afterAll(() => t.close());

  const pay = async (token: string, invoiceId: string) => {
    const res = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId: 'pm_card_visa' }, { token });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.payInvoice;
  };

  it('blocks other payments for two minutes of the server clock, then one goes through and Stripe charges once', async () => {
    await op.record([
      { userId: 'r-stale', metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' },
    ]);
    const token = await t.token('r-stale');
    const created = (await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token })).body.data!.createInvoice;
    const invoiceId = created.__typename === 'Invoice' ? created.id : '';
    // The first attempt reaches Stripe and hears nothing back (its request is held: a crash mid-call looks the same).
    const hold = await t.control.holdRequests({ path: '^/v1/invoices/[^/]+/pay$', method: 'POST', count: 1 });
    const first = pay(token, invoiceId);
    await t.control.waitForHeld(hold.id);
    const [attempt] = await t.database.db.orm.em
      .fork()
      .execute<Array<{ created_at: Date }>>(
        `select created_at from payment_attempts where invoice_id = ? and status = 'pending'`,
        [invoiceId],
      );
    const startedAt = new Date(attempt.created_at).getTime();

    clock.set(startedAt + 2 * 60_000 - 1000);
    expect(await pay(token, invoiceId)).toMatchObject({
      __typename: 'InvoiceStateError',
      message: 'A payment for this invoice is already in progress',
    });
    clock.set(startedAt + 2 * 60_000 + 1000);
    expect(await pay(token, invoiceId)).toMatchObject({ __typename: 'Invoice', status: 'PAID', isPaid: true });

    // The abandoned attempt finally reaches Stripe: the invoice is paid already, so nothing more is charged.
    await t.control.release(hold.id);
    expect(await first).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    const [remote] = (await t.stripe.invoices.list({ limit: 100 })).data.filter(
      (i) => i.metadata?.agenthub_invoice_id === invoiceId,
    );
    const payments = await t.stripe.invoicePayments.list({ invoice: remote.id });
    expect(payments.data.filter((p) => p.status === 'paid')).toHaveLength(1);
    expect(remote).toMatchObject({ status: 'paid', amount_paid: 247 });
  });
});
