import { print } from 'graphql';
import { Role } from '../src/entities/enums';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import {
  CancelInvoiceDocument,
  CreateInvoiceDocument,
  InvoiceDocument,
  InvoicesDocument,
  PayInvoiceDocument,
  PaymentStatusChangedDocument,
  UsageSummaryDocument,
} from './generated/graphql';
import type { PaymentStatusChangedSubscription } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { collect, collectOpen, startTestServer } from './helpers/server';

type Op = Awaited<ReturnType<typeof operator>>;

/** January 2024 usage for `userId` through the public API: 1,234,567 input tokens = $2.47 at list price. */
async function usage(op: Op, userId: string, tokens = '1234567'): Promise<void> {
  await op.record([{ userId, metric: 'llm_input_tokens', quantity: tokens, occurredAt: '2024-01-15T10:00:00Z' }]);
}

describe('invoices over GraphQL against the local Stripe', () => {
  let t: TestServer;
  let op: Op;

  const create = async (token: string, period = '2024-01', userId?: string) => {
    const res = await t.gql(CreateInvoiceDocument, { period, userId }, { token });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.createInvoice;
  };
  const createOpen = async (userId: string) => {
    await usage(op, userId);
    const result = await create(await t.token(userId));
    if (result.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(result)}`);
    }
    return result;
  };
  const pay = async (token: string, invoiceId: string, paymentMethodId: string) => {
    const res = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId }, { token });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.payInvoice;
  };
  const stripeInvoicesOf = async (invoiceId: string) =>
    (await t.stripe.invoices.list({ limit: 100 })).data.filter((i) => i.metadata?.agenthub_invoice_id === invoiceId);

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
  });
  afterAll(() => t.close());

  it('creates an OPEN invoice with its number, amount, payment URL and due date, mirrored in Stripe', async () => {
    const token = await t.token('u-create');
    await usage(op, 'u-create');
    const preview = await t.gql(UsageSummaryDocument, { period: '2024-01' }, { token });
    const invoice = await create(token);
    expect(invoice.__typename).toBe('Invoice');
    if (invoice.__typename !== 'Invoice') {
      return;
    }
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    expect(invoice.number).toMatch(new RegExp(`^AH-2024-01-\\d{6}-${today}$`));
    expect(invoice).toMatchObject({
      userId: 'u-create',
      status: 'OPEN',
      period: '2024-01',
      isPaid: false,
      amount: { amountMinor: 247, currency: 'usd', amount: '2.47', formatted: '$2.47' },
      amountPaid: { amountMinor: 0 },
    });
    // The preview equals the invoice.
    expect(invoice.amount.amountMinor).toBe(preview.body.data?.usageSummary.subtotal.amountMinor);
    expect(invoice.lines).toEqual([
      expect.objectContaining({
        kind: 'USAGE',
        metric: 'llm_input_tokens',
        quantity: '1234567',
        billableQuantity: '1234567',
        amount: { amountMinor: 247 },
      }),
    ]);
    expect(invoice.statusHistory.map((h) => [h.from, h.to, h.source])).toEqual([
      [null, 'DRAFT', 'API'],
      ['DRAFT', 'OPEN', 'API'],
    ]);
    const due = new Date(invoice.dueDate as string).getTime();
    expect(Math.abs(due - (Date.now() + 30 * 86_400_000))).toBeLessThan(86_400_000 * 1.01);

    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    expect(stripeInvoice).toMatchObject({
      status: 'open',
      amount_due: 247,
      currency: 'usd',
      collection_method: 'send_invoice',
      number: invoice.number,
      hosted_invoice_url: invoice.paymentUrl,
      metadata: { agenthub_invoice_id: invoice.id, agenthub_invoice_number: invoice.number },
    });
    // Creating again returns the same invoice, never a second one.
    const again = await create(token);
    expect(again.__typename === 'Invoice' && again.id).toBe(invoice.id);
    expect(await stripeInvoicesOf(invoice.id)).toHaveLength(1);
  });

  it('writes each line in Stripe as quantity × unit price, the free allowance named, totalling exactly ours', async () => {
    const userId = 'u-quantities';
    const at = '2024-01-15T10:00:00Z';
    await op.record([
      { userId, metric: 'agent_runtime_minutes', quantity: '1250', occurredAt: at }, // 0.02 USD, 60 free
      { userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: at }, // 0.000002 USD
      { userId, metric: 'llm_output_tokens', quantity: '1500000', occurredAt: at }, // graduated: 8 + 3 USD
      { userId, metric: 'tool_calls', quantity: '1', occurredAt: at }, // package of 1,000 for 0.50 USD
    ]);
    const invoice = await create(await t.token(userId));
    if (invoice.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(invoice)}`);
    }
    expect(invoice.amount.amountMinor).toBe(2380 + 247 + 1100 + 50);

    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    expect(stripeInvoice.total).toBe(invoice.amount.amountMinor);
    const lines = (await t.stripe.invoices.listLineItems(stripeInvoice.id, { limit: 100 })).data;
    const read = lines.map((l) => ({
      description: l.description,
      quantity: String(l.quantity_decimal),
      unit: String(l.pricing?.unit_amount_decimal),
      amount: l.amount,
    }));
    expect(read).toEqual(
      expect.arrayContaining([
        { description: 'Agent runtime (1,250 used, 60 free)', quantity: '1190', unit: '2', amount: 2380 },
        { description: 'LLM input tokens', quantity: '1234567', unit: '0.0002', amount: 247 },
        // A graduated price's average unit price multiplies back to exactly our amount.
        { description: 'LLM output tokens', quantity: '1500000', unit: '0.0007333333', amount: 1100 },
        // One call is one package of 0.50 USD: 50 cents a unit.
        { description: 'Tool calls', quantity: '1', unit: '50', amount: 50 },
      ]),
    );
    expect(lines).toHaveLength(4);

    // The hosted page reads like our invoice: quantities and unit prices, not "1 × $23.80".
    const page = await (await fetch(invoice.paymentUrl as string)).text();
    expect(page).toContain('Agent runtime (1,250 used, 60 free)</td><td class="amount" data-testid="quantity">1,190<');
    expect(page).toContain('data-testid="unit-price">$0.02<');
    expect(page).toContain('$37.77');
  });

  it('makes one invoice and one Stripe invoice under 5 concurrent createInvoice calls', async () => {
    await usage(op, 'u-race');
    const token = await t.token('u-race');
    const results = await Promise.all(Array.from({ length: 5 }, () => create(token)));
    const ids = new Set(results.map((r) => (r.__typename === 'Invoice' ? r.id : r.__typename)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(await stripeInvoicesOf(id)).toHaveLength(1);
    const count = await t.database.db.orm.em
      .fork()
      .execute<Array<{ n: string }>>(
        `select count(*)::text as n from invoices i join customers c on c.id = i.customer_id where c.external_user_id = 'u-race'`,
      );
    expect(count[0].n).toBe('1');
  });

  it('answers NoBillableUsage, PeriodNotEnded and a bad period as documented', async () => {
    const token = await t.token('u-idle');
    expect(await create(token)).toMatchObject({ __typename: 'NoBillableUsage', code: 'NO_BILLABLE_USAGE' });
    const now = new Date();
    const current = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    expect(await create(token, current)).toMatchObject({ __typename: 'PeriodNotEnded', code: 'PERIOD_NOT_ENDED' });
    const bad = await t.gql(CreateInvoiceDocument, { period: 'January' }, { token });
    expect(bad.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('pays with pm_card_visa: PAID, amount paid, and the subscriber hears OPEN → PAID', async () => {
    const invoice = await createOpen('u-visa');
    const token = await t.token('u-visa');
    const feed = await collectOpen<PaymentStatusChangedSubscription>(
      t.server,
      t.wsClient(token),
      print(PaymentStatusChangedDocument),
      { invoiceId: invoice.id },
    );
    const paid = await pay(token, invoice.id, 'pm_card_visa');
    expect(paid).toMatchObject({
      __typename: 'Invoice',
      status: 'PAID',
      isPaid: true,
      amountPaid: { amountMinor: 247 },
    });
    const [event] = await feed.waitFor(1);
    expect(event.paymentStatusChanged).toMatchObject({
      previousStatus: 'OPEN',
      status: 'PAID',
      source: 'API',
      invoice: { id: invoice.id, status: 'PAID', isPaid: true },
    });
    feed.stop();
    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    expect(stripeInvoice).toMatchObject({ status: 'paid', amount_paid: 247 });
    // Paying a paid invoice is a state error, not a second charge.
    expect(await pay(token, invoice.id, 'pm_card_visa')).toMatchObject({
      __typename: 'InvoiceStateError',
      code: 'INVALID_INVOICE_STATE',
      status: 'PAID',
    });
  });

  it('records a decline as PAYMENT_FAILED, then a good card pays it', async () => {
    const invoice = await createOpen('u-decline');
    const token = await t.token('u-decline');
    expect(await pay(token, invoice.id, 'pm_card_chargeDeclinedInsufficientFunds')).toMatchObject({
      __typename: 'PaymentDeclined',
      code: 'PAYMENT_DECLINED',
      declineCode: 'insufficient_funds',
      invoice: { status: 'PAYMENT_FAILED' },
    });
    expect(await pay(token, invoice.id, 'pm_card_visa')).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    const res = await t.gql(InvoiceDocument, { id: invoice.id }, { token });
    expect(res.body.data?.invoice.statusHistory.map((h) => h.to)).toEqual(['DRAFT', 'OPEN', 'PAYMENT_FAILED', 'PAID']);
  });

  it('answers 3-D Secure with PaymentRequiresAction and a client secret', async () => {
    const invoice = await createOpen('u-3ds');
    const token = await t.token('u-3ds');
    const result = await pay(token, invoice.id, 'pm_card_authenticationRequired');
    expect(result).toMatchObject({
      __typename: 'PaymentRequiresAction',
      code: 'PAYMENT_REQUIRES_ACTION',
      paymentUrl: invoice.paymentUrl,
      invoice: { status: 'REQUIRES_ACTION' },
    });
    expect(result.__typename === 'PaymentRequiresAction' && result.clientSecret).toMatch(/_secret_/);
  });

  it('settles 3-D Secure completed on the hosted page through the webhook, pushed to the subscriber', async () => {
    const invoice = await createOpen('u-3ds-done');
    const token = await t.token('u-3ds-done');
    const feed = await collectOpen<PaymentStatusChangedSubscription>(
      t.server,
      t.wsClient(token),
      print(PaymentStatusChangedDocument),
      { invoiceId: invoice.id },
    );
    expect(await pay(token, invoice.id, 'pm_card_authenticationRequired')).toMatchObject({
      __typename: 'PaymentRequiresAction',
    });
    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    // The customer approves the challenge on Stripe's page; only Stripe's webhook tells us.
    await t.control.completeThreeDSecure(stripeInvoice.id, 'approve');
    const events = await feed.waitFor(2);
    expect(events.map((e) => [e.paymentStatusChanged.previousStatus, e.paymentStatusChanged.status])).toEqual([
      ['OPEN', 'REQUIRES_ACTION'],
      ['REQUIRES_ACTION', 'PAID'],
    ]);
    expect(events[1].paymentStatusChanged).toMatchObject({ source: 'WEBHOOK', invoice: { isPaid: true } });
    feed.stop();
  });

  it('refuses card numbers and malformed payment method ids', async () => {
    const invoice = await createOpen('u-pan');
    const token = await t.token('u-pan');
    const res = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: '4242424242424242' },
      { token },
    );
    expect(res.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/card numbers are never accepted/),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(JSON.stringify(res.body)).not.toContain('4242424242424242');
  });

  it('rejects an unknown payment method without blocking later payments', async () => {
    const invoice = await createOpen('u-unknown-pm');
    const token = await t.token('u-unknown-pm');
    const res = await t.gql(PayInvoiceDocument, { invoiceId: invoice.id, paymentMethodId: 'pm_nope' }, { token });
    expect(res.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^Stripe rejected the payment/),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(await pay(token, invoice.id, 'pm_card_visa')).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
  });

  it('leaves the invoice PROCESSING when Stripe stays unreachable, and a later payment settles it once', async () => {
    const invoice = await createOpen('u-5xx');
    const token = await t.token('u-5xx');
    await t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/pay', count: 3 });
    expect(await pay(token, invoice.id, 'pm_card_visa')).toMatchObject({
      __typename: 'PaymentProviderUnavailable',
      code: 'PAYMENT_PENDING',
      pendingInvoice: { status: 'PROCESSING' },
    });
    await t.control.clearFaults();
    expect(await pay(token, invoice.id, 'pm_card_visa')).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    const payments = await t.stripe.invoicePayments.list({ invoice: stripeInvoice.id });
    expect(payments.data.filter((p) => p.status === 'paid')).toHaveLength(1);
  });

  it('charges exactly once under 10 concurrent payInvoice calls', async () => {
    const invoice = await createOpen('u-10pay');
    const token = await t.token('u-10pay');
    const results = await Promise.all(Array.from({ length: 10 }, () => pay(token, invoice.id, 'pm_card_visa')));
    const kinds = results.map((r) => r.__typename);
    expect(kinds.filter((k) => k === 'Invoice')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'InvoiceStateError')).toHaveLength(9);
    const [stripeInvoice] = await stripeInvoicesOf(invoice.id);
    const payments = await t.stripe.invoicePayments.list({ invoice: stripeInvoice.id });
    expect(payments.data.filter((p) => p.status === 'paid')).toHaveLength(1);
    expect(stripeInvoice.amount_paid).toBe(247);
  });

  it('cancels an unpaid invoice (VOID with the reason, void in Stripe) and refuses to cancel a paid one', async () => {
    const invoice = await createOpen('u-cancel');
    const token = await t.token('u-cancel');
    const res = await t.gql(CancelInvoiceDocument, { invoiceId: invoice.id, reason: 'customer request' }, { token });
    expect(res.body.data?.cancelInvoice).toMatchObject({
      __typename: 'Invoice',
      status: 'VOID',
      voidReason: 'customer request',
    });
    expect((await stripeInvoicesOf(invoice.id))[0].status).toBe('void');
    expect(await pay(token, invoice.id, 'pm_card_visa')).toMatchObject({
      __typename: 'InvoiceStateError',
      status: 'VOID',
    });
    // The period can be invoiced again after a VOID, billing the same usage.
    const again = await create(token);
    expect(again).toMatchObject({ __typename: 'Invoice', status: 'OPEN', amount: { amountMinor: 247 } });
    expect(again.__typename === 'Invoice' && again.id).not.toBe(invoice.id);

    const paidOne = await createOpen('u-cancel-paid');
    const paidToken = await t.token('u-cancel-paid');
    await pay(paidToken, paidOne.id, 'pm_card_visa');
    const refused = await t.gql(CancelInvoiceDocument, { invoiceId: paidOne.id }, { token: paidToken });
    expect(refused.body.data?.cancelInvoice).toMatchObject({
      __typename: 'InvoiceStateError',
      status: 'PAID',
      message: 'A paid invoice cannot be cancelled',
    });
  });

  it('resumes after Stripe fails on finalize: still exactly one Stripe invoice', async () => {
    await usage(op, 'u-chaos');
    const token = await t.token('u-chaos');
    // More failures than the SDK's own retries (2), so createInvoice gives up once and leaves a DRAFT.
    await t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/finalize', count: 3 });
    const first = await create(token);
    expect(first).toMatchObject({ __typename: 'PaymentProviderUnavailable', code: 'PAYMENT_PROVIDER_UNAVAILABLE' });
    const second = await create(token);
    expect(second).toMatchObject({ __typename: 'Invoice', status: 'OPEN' });
    await t.control.clearFaults();
    expect(await stripeInvoicesOf(second.__typename === 'Invoice' ? second.id : '')).toHaveLength(1);
  });

  describe('who may do what', () => {
    let invoiceId: string;
    let alice: string;
    let bob: string;
    beforeAll(async () => {
      invoiceId = (await createOpen('matrix-alice')).id;
      alice = await t.token('matrix-alice');
      bob = await t.token('matrix-bob');
    });

    it('refuses anonymous callers everything', async () => {
      for (const [doc, vars] of [
        [InvoiceDocument, { id: invoiceId }],
        [InvoicesDocument, {}],
        [CreateInvoiceDocument, { period: '2024-01' }],
        [PayInvoiceDocument, { invoiceId, paymentMethodId: 'pm_card_visa' }],
        [CancelInvoiceDocument, { invoiceId }],
      ] as const) {
        const res = await t.gql(doc as never, vars as never, { token: null });
        expect(res.status).toBe(401);
        expect(res.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      }
    });

    it("hides another user's invoice as not found and forbids acting for them", async () => {
      const read = await t.gql(InvoiceDocument, { id: invoiceId }, { token: bob });
      expect(read.body.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const payRes = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId: 'pm_card_visa' }, { token: bob });
      expect(payRes.body.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const cancel = await t.gql(CancelInvoiceDocument, { invoiceId }, { token: bob });
      expect(cancel.body.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const createFor = await t.gql(
        CreateInvoiceDocument,
        { period: '2024-01', userId: 'matrix-alice' },
        { token: bob },
      );
      expect(createFor.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      const list = await t.gql(InvoicesDocument, { userId: 'matrix-alice' }, { token: bob });
      expect(list.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      const own = await t.gql(InvoicesDocument, {}, { token: bob });
      expect(own.body.data?.invoices.totalCount).toBe(0);
      const watchFor = collect(t.wsClient(bob), print(PaymentStatusChangedDocument), { userId: 'matrix-alice' });
      expect(await watchFor.failed()).toEqual([expect.objectContaining({ extensions: { code: 'FORBIDDEN' } })]);
    });

    it("answers a subscription to another user's invoice exactly like one to a missing invoice", async () => {
      const missingId = '0b7e4c8e-3f1a-4d2b-9c6e-5a4f3e2d1c0b';
      const subscribe = async (id: string) =>
        JSON.stringify(await collect(t.wsClient(bob), print(PaymentStatusChangedDocument), { invoiceId: id }).failed())
          // The message names the id asked for; everything else must be identical.
          .replaceAll(id, '<id>');
      const others = await subscribe(invoiceId);
      expect(others).toBe(await subscribe(missingId));
      expect(JSON.parse(others)).toEqual([
        {
          message: 'Invoice "<id>" not found',
          locations: [expect.any(Object)],
          path: ['paymentStatusChanged'],
          extensions: { code: 'NOT_FOUND' },
        },
      ]);
      // …and exactly what the query answers over HTTP.
      const read = await t.gql(InvoiceDocument, { id: invoiceId }, { token: bob });
      expect(read.body.errors?.[0]).toMatchObject({
        message: `Invoice "${invoiceId}" not found`,
        extensions: { code: 'NOT_FOUND' },
      });
    });

    it('lets the owner and admins read it, and admins act for anyone', async () => {
      expect((await t.gql(InvoiceDocument, { id: invoiceId }, { token: alice })).body.data?.invoice.id).toBe(invoiceId);
      const admin = await t.token('root', Role.ADMIN);
      expect((await t.gql(InvoiceDocument, { id: invoiceId }, { token: admin })).body.data?.invoice.userId).toBe(
        'matrix-alice',
      );
      const list = await t.gql(InvoicesDocument, { userId: 'matrix-alice' }, { token: admin });
      expect(list.body.data?.invoices.edges.map((e) => e.node.id)).toEqual([invoiceId]);
      const createdByAdmin = await t.gql(
        CreateInvoiceDocument,
        { period: '2024-01', userId: 'matrix-alice' },
        { token: admin },
      );
      expect(createdByAdmin.body.data?.createInvoice).toMatchObject({ __typename: 'Invoice', id: invoiceId });
    });
  });
});
