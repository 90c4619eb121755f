import type Stripe from 'stripe';
import { Invoice } from '../../src/entities';
import { cancelInvoice } from '../../src/services/cancel-invoice.service';
import { createInvoice } from '../../src/services/create-invoice.service';
import { reconcile } from '../../src/services/reconcile-invoices.service';
import type { ReconcileReport } from '../../src/services/reconcile-invoices.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { TEST_WEBHOOK_SECRET } from '../helpers/server';
import type { BillingHarness } from './helpers';
import { SERVICE, afterPeriod, billingHarness } from './helpers';

const waitFor = async (check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error('timed out');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('reconciliation gaps: deleted drafts, unsent invoices', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await billingHarness();
  });
  afterAll(() => h.close());

  const invoiceDeps = (period: string, gateway = h.gateway) => ({
    em: h.em.fork(),
    gateway,
    config: h.t.config,
    now: afterPeriod(period),
  });
  const create = async (period: string, userId: string, gateway = h.gateway) => {
    await h.usage(period, [userId]);
    return createInvoice(invoiceDeps(period, gateway), SERVICE, { period, userId });
  };
  const row = (id: string): Promise<Invoice> => h.em.fork().findOneOrFail(Invoice, id);
  /** The deps of a reconciliation run whose clock reads `now`. */
  const at = (now: Date) => ({ ...h.deps('2024-01'), now: () => now });
  const changesOf = (report: ReconcileReport, invoiceId: string) =>
    report.changes.filter((c) => c.invoiceId === invoiceId).map((c) => [c.action, c.from, c.to, c.applied]);
  const webhooksOff = () => h.t.control.setWebhookTarget(null);
  const webhooksOn = () => h.t.control.setWebhookTarget(`${h.t.url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
  const sentEvents = async (stripeInvoiceId: string): Promise<Stripe.Event[]> =>
    (await h.t.stripe.events.list({ type: 'invoice.sent', limit: 100 }).autoPagingToArray({ limit: 1000 })).filter(
      (e) => (e.data.object as Stripe.Invoice).id === stripeInvoiceId,
    );

  it('counts a cancelled DRAFT whose Stripe draft was deleted as consistent, not as an error', async () => {
    const period = '2024-11';
    await h.t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/finalize', method: 'POST' });
    const stuck = await create(period, 'deleted-draft', gatewayFromConfig(h.t.config, { maxNetworkRetries: 0 }));
    await h.t.control.clearFaults();
    expect(stuck).toMatchObject({ kind: 'stripe_unavailable', invoice: { status: 'DRAFT' } });
    if (stuck.kind !== 'stripe_unavailable') {
      return;
    }
    const stripeId = stuck.invoice.stripeInvoiceId as string;
    expect(await cancelInvoice(invoiceDeps(period), SERVICE, { invoiceId: stuck.invoice.id })).toMatchObject({
      kind: 'voided',
    });
    await expect(h.t.stripe.invoices.retrieve(stripeId)).rejects.toMatchObject({ statusCode: 404 });

    for (const dryRun of [true, false]) {
      const report = await reconcile(at(new Date()), { period, dryRun });
      expect(report).toMatchObject({ checked: 1, changes: [], warnings: [], errors: [] });
    }
  });

  it('completes the e-mail of an invoice whose Stripe send failed: on createInvoice again, or by reconciliation', async () => {
    const period = '2024-12';
    const sendFault = { kind: '500', path: '^/v1/invoices/[^/]+/send$', method: 'POST' } as const;
    const sendKey = (invoice: Invoice) => `invoice:${invoice.id}:send`;

    // 1. createInvoice again.
    await h.t.control.injectFault(sendFault);
    const failed = await create(period, 'unsent-retry');
    expect(failed).toMatchObject({ kind: 'stripe_unavailable' });
    if (failed.kind !== 'stripe_unavailable') {
      return;
    }
    const retry = failed.invoice;
    // The invoice.finalized webhook (or our own call) has opened the row; nothing was e-mailed.
    await waitFor(async () => (await row(retry.id)).status === 'OPEN');
    expect(await sentEvents(retry.stripeInvoiceId as string)).toHaveLength(0);
    await h.t.control.clearFaults();
    const again = await createInvoice(invoiceDeps(period), SERVICE, { period, userId: 'unsent-retry' });
    expect(again).toMatchObject({ kind: 'invoice', invoice: { id: retry.id, status: 'OPEN' } });
    const sent = await sentEvents(retry.stripeInvoiceId as string);
    expect(sent.map((e) => e.request?.idempotency_key)).toEqual([sendKey(retry)]);
    expect((await row(retry.id)).sentAt).toBeInstanceOf(Date);
    // A third call sends nothing more.
    await createInvoice(invoiceDeps(period), SERVICE, { period, userId: 'unsent-retry' });
    expect(await sentEvents(retry.stripeInvoiceId as string)).toHaveLength(1);

    // 2. Reconciliation, for one never sent and one Stripe sent without our knowing (response and webhook lost).
    await h.t.control.injectFault(sendFault);
    const unsent = await create(period, 'unsent-reconcile');
    const lostResponse = await create(period, 'unsent-lost-response');
    await h.t.control.clearFaults();
    if (unsent.kind !== 'stripe_unavailable' || lostResponse.kind !== 'stripe_unavailable') {
      throw new Error(`expected stripe_unavailable, got ${unsent.kind} and ${lostResponse.kind}`);
    }
    await webhooksOff();
    try {
      await h.t.stripe.invoices.sendInvoice(lostResponse.invoice.stripeInvoiceId as string);
      for (const invoice of [unsent.invoice, lostResponse.invoice]) {
        await waitFor(async () => (await row(invoice.id)).status === 'OPEN');
        expect((await row(invoice.id)).sentAt ?? null).toBeNull();
      }
      // With AUTO_SEND_INVOICES off there is nothing to send.
      const noAutoSend = await reconcile(
        { ...at(new Date()), config: { ...h.t.config, billing: { ...h.t.config.billing, autoSendInvoices: false } } },
        { period, dryRun: true },
      );
      expect(noAutoSend.changes).toEqual([]);

      const dry = await reconcile(at(new Date()), { period, dryRun: true });
      expect(dry.errors).toEqual([]);
      expect(changesOf(dry, unsent.invoice.id)).toEqual([['send', 'unsent', 'sent', false]]);
      expect(changesOf(dry, lostResponse.invoice.id)).toEqual([['sent_at', 'unsent', 'sent', false]]);
      expect(changesOf(dry, retry.id)).toEqual([]);
      expect(await sentEvents(unsent.invoice.stripeInvoiceId as string)).toHaveLength(0);

      const applied = await reconcile(at(new Date()), { period });
      expect(applied.errors).toEqual([]);
      expect(changesOf(applied, unsent.invoice.id)).toEqual([['send', 'unsent', 'sent', true]]);
      expect(changesOf(applied, lostResponse.invoice.id)).toEqual([['sent_at', 'unsent', 'sent', true]]);
      const unsentEvents = await sentEvents(unsent.invoice.stripeInvoiceId as string);
      expect(unsentEvents.map((e) => e.request?.idempotency_key)).toEqual([sendKey(unsent.invoice)]);
      // Stripe had e-mailed this one: recorded, not e-mailed twice.
      expect(await sentEvents(lostResponse.invoice.stripeInvoiceId as string)).toHaveLength(1);
      for (const invoice of [unsent.invoice, lostResponse.invoice]) {
        expect((await row(invoice.id)).sentAt).toBeInstanceOf(Date);
      }
      expect((await reconcile(at(new Date()), { period })).changes).toEqual([]);
    } finally {
      await webhooksOn();
    }
  });
});
