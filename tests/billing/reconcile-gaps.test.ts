import { waitFor } from '../webhooks/fixtures';
import type Stripe from 'stripe';
import { Invoice, PaymentAttempt } from '../../src/entities';
import { cancelInvoice } from '../../src/services/invoicing/cancel-invoice.service';
import { createInvoice } from '../../src/services/invoicing/create-invoice.service';
import { payInvoice } from '../../src/services/payments/pay-invoice.service';
import { reconcile } from '../../src/services/reconciliation/reconcile-invoices.service';
import type { ReconcileReport } from '../../src/services/reconciliation/reconcile-invoices.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { clockStartingAt } from '../helpers/clock';
import { TEST_WEBHOOK_SECRET } from '../helpers/server';
import type { BillingHarness } from './helpers';
import { SERVICE, afterPeriod, billingHarness } from './helpers';

const MINUTE = 60_000;

describe('reconciliation gaps: stuck payments, deleted drafts, unsent invoices', () => {
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
  const open = async (period: string, userId: string): Promise<Invoice> => {
    const created = await create(period, userId);
    if (created.kind !== 'invoice') {
      throw new Error(`expected an invoice, got ${created.kind}`);
    }
    return created.invoice;
  };
  const row = (id: string): Promise<Invoice> => h.em.fork().findOneOrFail(Invoice, id);
  /** The deps of a reconciliation run whose clock reads `now`. */
  const at = (now: Date) => ({ ...h.deps('2024-01'), clock: clockStartingAt(now) });
  const changesOf = (report: ReconcileReport, invoiceId: string) =>
    report.changes.filter((c) => c.invoiceId === invoiceId).map((c) => [c.action, c.from, c.to, c.applied]);
  const webhooksOff = () => h.t.control.setWebhookTarget(null);
  const webhooksOn = () => h.t.control.setWebhookTarget(`${h.t.url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
  const sentEvents = async (stripeInvoiceId: string): Promise<Stripe.Event[]> =>
    (await h.t.stripe.events.list({ type: 'invoice.sent', limit: 100 }).autoPagingToArray({ limit: 1000 })).filter(
      (e) => (e.data.object as Stripe.Invoice).id === stripeInvoiceId,
    );

  it('releases a PROCESSING invoice whose payment never reached Stripe, after the timeout, never a paid or pending one', async () => {
    const period = '2024-10';
    await webhooksOff(); // no Stripe event reaches us: only reconciliation can settle these
    try {
      const lost = await open(period, 'stale-lost');
      const paidInStripe = await open(period, 'stale-paid');
      const pendingInStripe = await open(period, 'stale-3ds');
      // Stripe answers 500 to every pay request (after the SDK's retries): the outcome is unknown to us.
      await h.t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/pay', method: 'POST' });
      for (const invoice of [lost, paidInStripe, pendingInStripe]) {
        // Paid now (attempts are stamped with the caller's clock), so reconciliation's clock below compares with it.
        const outcome = await payInvoice({ ...invoiceDeps(period), now: new Date() }, SERVICE, {
          invoiceId: invoice.id,
          paymentMethodId: 'pm_card_visa',
        });
        expect(outcome).toMatchObject({ kind: 'pending', invoice: { status: 'PROCESSING' } });
      }
      await h.t.control.clearFaults();
      // Stripe never attempted `lost`. The customer paid `paidInStripe` on the hosted page, and started a 3-D Secure
      // payment of `pendingInStripe` that waits for them.
      await h.t.stripe.invoices.pay(paidInStripe.stripeInvoiceId as string, { payment_method: 'pm_card_visa' });
      await expect(
        h.t.stripe.invoices.pay(pendingInStripe.stripeInvoiceId as string, {
          payment_method: 'pm_card_threeDSecure2Required',
        }),
      ).rejects.toMatchObject({ statusCode: 402 });
      // A cancel is refused while PROCESSING: without reconciliation `lost` would stay stuck.
      expect(await cancelInvoice(invoiceDeps(period), SERVICE, { invoiceId: lost.id })).toMatchObject({
        kind: 'invalid_state',
        status: 'PROCESSING',
      });

      const paidChanges = [
        ['status', 'PROCESSING', 'PAID', false],
        ['amount_paid', '0', '247', false],
      ];
      // Now: the attempts are fresh; only the paid one moves (to PAID).
      const fresh = await reconcile(at(new Date()), { period, dryRun: true });
      expect(fresh.errors).toEqual([]);
      expect(changesOf(fresh, lost.id)).toEqual([]);
      expect(changesOf(fresh, paidInStripe.id)).toEqual(paidChanges);
      expect(changesOf(fresh, pendingInStripe.id)).toEqual([]);
      // 16 minutes later with a 60-minute threshold (configurable): still too early.
      const later = new Date(Date.now() + 16 * MINUTE);
      const patient = await reconcile(at(later), { period, dryRun: true, processingTimeoutMs: 60 * MINUTE });
      expect(changesOf(patient, lost.id)).toEqual([]);

      // 16 minutes later with the default threshold (15 minutes): the dry run shows the release first.
      const dry = await reconcile(at(later), { period, dryRun: true });
      expect(dry.errors).toEqual([]);
      expect(changesOf(dry, lost.id)).toEqual([['payment_timeout', 'PROCESSING', 'PAYMENT_FAILED', false]]);
      expect(changesOf(dry, paidInStripe.id)).toEqual(paidChanges);
      expect(changesOf(dry, pendingInStripe.id)).toEqual([]);
      expect((await row(lost.id)).status).toBe('PROCESSING');

      const applied = await reconcile(at(later), { period });
      expect(applied.errors).toEqual([]);
      expect(changesOf(applied, lost.id)).toEqual([['payment_timeout', 'PROCESSING', 'PAYMENT_FAILED', true]]);
      expect((await row(lost.id)).status).toBe('PAYMENT_FAILED');
      expect((await row(paidInStripe.id)).status).toBe('PAID');
      expect((await row(pendingInStripe.id)).status).toBe('PROCESSING');
      const attempts = await h.em.fork().find(PaymentAttempt, { invoice: lost.id });
      expect(attempts.map((a) => [a.attemptNumber, a.status, a.errorCode])).toEqual([[1, 'declined', 'not_charged']]);
      const [last] = await h.em
        .fork()
        .execute<Array<{ from_status: string; to_status: string; source: string; reason: string }>>(
          `select from_status, to_status, source, reason from invoice_status_changes
           where invoice_id = ? order by occurred_at desc limit 1`,
          [lost.id],
        );
      expect(last).toMatchObject({ from_status: 'PROCESSING', to_status: 'PAYMENT_FAILED', source: 'RECONCILIATION' });
      expect(last.reason).toMatch(/no payment/i);
      expect((await reconcile(at(later), { period })).changes).toEqual([]);

      // The invoice is payable again, and the next attempt charges it once.
      const retried = await payInvoice(invoiceDeps(period), SERVICE, {
        invoiceId: lost.id,
        paymentMethodId: 'pm_card_visa',
      });
      expect(retried).toMatchObject({ kind: 'paid', invoice: { status: 'PAID' } });
      const payments = await h.t.stripe.invoicePayments.list({ invoice: lost.stripeInvoiceId as string });
      expect(payments.data.filter((p) => p.status === 'paid')).toHaveLength(1);
    } finally {
      await h.t.control.clearFaults();
      await webhooksOn();
    }
  });

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
