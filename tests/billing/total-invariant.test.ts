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
import { waitFor } from '../webhooks/fixtures';

type Op = Awaited<ReturnType<typeof operator>>;

/**
 * invariant 3 of docs/architecture.md: a Stripe invoice is never finalized, e-mailed or paid while its total differs from ours. The
 * damage is made the way it happens: Stripe holds items we did not put there (a duplicate of one of our lines, left
 * by an attempt whose answer was lost; an item added by hand in the Stripe Dashboard), and in some cases the draft
 * was finalized with them.
 */
describe('a Stripe invoice that does not total ours', () => {
  let t: TestServer;
  let op: Op;

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
  });
  afterEach(() => t.control.clearFaults());
  afterAll(() => t.close());

  /** 1,234,567 input tokens (2.47) and 250,000 output tokens (2.00): two lines, 4.47 in all. */
  const usage = (userId: string) =>
    op.record([
      { userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' },
      { userId, metric: 'llm_output_tokens', quantity: '250000', occurredAt: '2024-01-16T10:00:00Z' },
    ]);
  const OUR_TOTAL = 447;

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
  const read = async (token: string, id: string) =>
    (await t.gql(InvoiceDocument, { id }, { token })).body.data!.invoice!;
  const invoicesOf = async (token: string) =>
    (await t.gql(InvoicesDocument, {}, { token })).body.data!.invoices.edges.map((e) => e.node);
  const reconcile = async (dryRun = false) => {
    const res = await t.gql(ReconcileDocument, { period: '2024-01', dryRun }, { token: op.admin });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.reconcile;
  };
  const sentCount = async (stripeInvoiceId: string) =>
    (await t.stripe.events.list({ type: 'invoice.sent', limit: 100 })).data.filter(
      (e) => (e.data.object as Stripe.Invoice).id === stripeInvoiceId,
    ).length;
  const paidFor = async (stripeInvoiceId: string) => {
    const remote = (await t.stripe.invoices.retrieve(stripeInvoiceId, { expand: ['payments'] })) as Stripe.Invoice;
    return {
      amountPaid: remote.amount_paid,
      payments: remote.payments?.data.filter((p) => p.status === 'paid').length ?? 0,
    };
  };

  /**
   * createInvoice stops before finalizing (Stripe answers 500): our row is a DRAFT naming a Stripe draft that carries
   * our two items. Returns our invoice and the Stripe draft.
   */
  const stuckDraft = async (userId: string) => {
    await usage(userId);
    const token = await t.token(userId);
    await t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/finalize$', method: 'POST' });
    expect(await create(token)).toMatchObject({ __typename: 'PaymentProviderUnavailable' });
    await t.control.clearFaults();
    const [draft] = await invoicesOf(token);
    expect(draft.status).toBe('DRAFT');
    const remote = (await t.stripe.invoices.list({ limit: 100 })).data.find(
      (i) => i.metadata?.[METADATA.invoiceId] === draft.id,
    ) as Stripe.Invoice;
    expect(remote.status).toBe('draft');
    return { token, draft, remote };
  };

  /** Items Stripe holds that we did not put there: a second copy of our first line, and one added by hand. */
  const damage = async (remote: Stripe.Invoice) => {
    const [first] = (await t.stripe.invoiceItems.list({ invoice: remote.id, limit: 100 })).data.slice(-1);
    await t.stripe.invoiceItems.create({
      customer: remote.customer as string,
      invoice: remote.id,
      amount: first.amount,
      currency: 'usd',
      description: first.description ?? 'copy',
      metadata: first.metadata ?? {},
    });
    await t.stripe.invoiceItems.create({
      customer: remote.customer as string,
      invoice: remote.id,
      amount: 1500,
      currency: 'usd',
      description: 'Added in the Dashboard',
    });
  };

  it('removes what is not ours from the Stripe draft before finalizing it', async () => {
    const { token, draft, remote } = await stuckDraft('ti-draft');
    await damage(remote);
    expect((await t.stripe.invoices.retrieve(remote.id)).total).not.toBe(OUR_TOTAL);

    expect(await create(token)).toMatchObject({ id: draft.id, status: 'OPEN', amount: { amountMinor: OUR_TOTAL } });
    const finalized = await t.stripe.invoices.retrieve(remote.id);
    expect(finalized).toMatchObject({ status: 'open', total: OUR_TOTAL });
    // Exactly our two lines, one item each; the copy and the hand-made item are gone.
    const lineIds = finalized.lines.data.map((l) => l.metadata?.[METADATA.lineId]);
    expect(lineIds).toHaveLength(2);
    expect(new Set(lineIds).size).toBe(2);
    expect(finalized.lines.data.every((l) => l.metadata?.[METADATA.invoiceId] === draft.id)).toBe(true);
    expect(await sentCount(remote.id)).toBe(1);
    expect(await pay(token, draft.id)).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    expect(await paidFor(remote.id)).toEqual({ amountPaid: OUR_TOTAL, payments: 1 });
  });

  /** The damage of the old double charge: the draft was finalized with the extra items and our row opened. */
  const openWithAnotherTotal = async (userId: string) => {
    const stuck = await stuckDraft(userId);
    await damage(stuck.remote);
    await t.stripe.invoices.finalizeInvoice(stuck.remote.id);
    // invoice.finalized reaches the server, which opens our row as Stripe did.
    await waitFor(async () => (await read(stuck.token, stuck.draft.id)).status === 'OPEN', undefined, 'OPEN');
    return stuck;
  };

  it('refuses to pay it (nothing is charged); reconciliation voids it and reissues the period', async () => {
    const { token, draft, remote } = await openWithAnotherTotal('ti-pay');

    const refused = await pay(token, draft.id);
    expect(refused).toMatchObject({
      __typename: 'InvoiceTotalMismatch',
      code: 'INVOICE_TOTAL_MISMATCH',
      invoice: { id: draft.id, status: 'OPEN' },
      stripeTotal: { amountMinor: 2194, currency: 'USD' },
      message: expect.stringMatching(/Nothing was charged/),
    });
    const rest = await fetch(`${t.url}/api/v1/billing/invoice/${draft.id}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ payment_method_id: 'pm_card_visa', user_id: 'ti-pay' }),
    });
    expect(rest.status).toBe(409);
    expect(await rest.json()).toMatchObject({
      success: false,
      error: { code: 'total_mismatch', invoice_id: draft.id, status: 'open', amount: 4.47, stripe_amount: 21.94 },
    });
    expect(await paidFor(remote.id)).toEqual({ amountPaid: 0, payments: 0 });

    const dry = await reconcile(true);
    expect(dry.changes).toContainEqual(
      expect.objectContaining({ invoiceId: draft.id, action: 'reissue', from: draft.number, applied: false }),
    );
    expect((await read(token, draft.id)).status).toBe('OPEN');

    const report = await reconcile();
    const reissue = report.changes.find((c) => c.invoiceId === draft.id);
    expect(reissue).toMatchObject({ action: 'reissue', from: draft.number, applied: true });
    expect(report.errors).toEqual([]);

    const old = await read(token, draft.id);
    expect(old.status).toBe('VOID');
    expect(old.statusHistory.at(-1)).toMatchObject({
      to: 'VOID',
      source: 'RECONCILIATION',
      reason: expect.stringMatching(/totals 2194 USD.*ours 447 USD: voided and reissued/),
    });
    expect((await t.stripe.invoices.retrieve(remote.id)).status).toBe('void');

    const fresh = (await invoicesOf(token)).find((i) => i.id !== draft.id)!;
    expect(fresh).toMatchObject({ number: reissue!.to, status: 'OPEN', amount: { amountMinor: OUR_TOTAL } });
    expect(fresh.statusHistory[0]).toMatchObject({ to: 'DRAFT', reason: `reissues ${draft.number}` });
    const replacement = (await t.stripe.invoices.list({ limit: 100 })).data.find(
      (i) => i.metadata?.[METADATA.invoiceId] === fresh.id,
    )!;
    expect(replacement).toMatchObject({ status: 'open', total: OUR_TOTAL });
    expect(await sentCount(replacement.id)).toBe(1);
    expect(await pay(token, fresh.id)).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    expect(await paidFor(replacement.id)).toEqual({ amountPaid: OUR_TOTAL, payments: 1 });
  });

  it('createInvoice reissues it instead of e-mailing it', async () => {
    const { token, draft, remote } = await openWithAnotherTotal('ti-create');
    const again = await create(token);
    expect(again).toMatchObject({ __typename: 'Invoice', status: 'OPEN', amount: { amountMinor: OUR_TOTAL } });
    const againId = again.__typename === 'Invoice' ? again.id : '';
    expect(againId).not.toBe(draft.id);
    expect((await read(token, draft.id)).status).toBe('VOID');
    expect(await sentCount(remote.id)).toBe(0);
    expect((await t.stripe.invoices.retrieve(remote.id)).status).toBe('void');
  });

  it('reconciliation reports a paid one with both totals', async () => {
    const { token, draft, remote } = await openWithAnotherTotal('ti-paid');
    // Paid on Stripe's side (the hosted page) before anything could stop it.
    await t.stripe.invoices.pay(remote.id, { payment_method: 'pm_card_visa' });
    await waitFor(async () => (await read(token, draft.id)).status === 'PAID', undefined, 'PAID');
    const report = await reconcile();
    expect(report.errors).toContainEqual({
      invoiceId: draft.id,
      message: expect.stringMatching(/paid for 2194 USD.*ours totals 447 USD: refund or collect the difference/),
    });
  });
});
