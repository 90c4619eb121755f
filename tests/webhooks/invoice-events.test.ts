import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { StripeSubscription } from '../../src/entities';
import { InvoiceStatus, Role, StatusChangeSource } from '../../src/entities/enums';
import { canTransition } from '../../src/services/invoicing/invoice-status';
import { replayWebhookEvent } from '../../src/services/stripe-events/webhook-events.service';
import { ManualClock } from '../helpers/clock';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';
import {
  driveUntil,
  findEvent,
  historyOf,
  invoiceForEvent,
  loadInvoice,
  nowSeconds,
  postWebhook,
  seedInvoice,
  settled,
  settledEvent,
  stripeEvent,
  stripeInvoice,
  stripeSubscription,
} from './fixtures';

// Short retries for this file: 50 ms doubling, capped at 100 ms, 5 attempts.
const SHORT_RETRIES = { WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_MAX_MS: '100', WEBHOOK_RETRY_MAX_ATTEMPTS: '5' };
/** The worker's idle poll (WEBHOOK_WORKER_POLL_MS default). */
const POLL_MS = 100;

const S = InvoiceStatus;
const admin = { userId: 'admin-1', role: Role.ADMIN };

describe('webhook processing: invoices and subscriptions', () => {
  let t: TestServer;
  // The server's clock moves only when a test moves it: the worker polls and retries when the test says so, and an
  // event posted to the route is applied because the route wakes the worker.
  const clock = new ManualClock();
  beforeAll(async () => {
    t = await startTestServer(SHORT_RETRIES, { clock });
  });
  afterAll(() => t.close());

  /** A Stripe invoice carrying our metadata, for an invoice row (existing or not yet). */
  function remoteFor(invoice: { id: string; stripeInvoiceId?: string | null }): Stripe.Invoice {
    return stripeInvoice({
      ...(invoice.stripeInvoiceId ? { id: invoice.stripeInvoiceId } : {}),
      metadata: { agenthub_invoice_id: invoice.id },
    });
  }

  async function deliver(type: Stripe.Event.Type, remote: Stripe.Invoice, created = nowSeconds()) {
    const event = stripeEvent(type, invoiceForEvent(type, remote, created), { created });
    const res = await postWebhook(t.url, event);
    expect(res.status).toBe(200);
    return event;
  }

  test.each([
    ['invoice.finalized', S.DRAFT, S.OPEN],
    ['invoice.sent', S.DRAFT, S.OPEN],
    ['invoice.paid', S.OPEN, S.PAID],
    ['invoice.payment_succeeded', S.OPEN, S.PAID],
    ['invoice.payment_failed', S.OPEN, S.PAYMENT_FAILED],
    ['invoice.payment_action_required', S.OPEN, S.REQUIRES_ACTION],
    ['invoice.voided', S.OPEN, S.VOID],
    ['invoice.marked_uncollectible', S.OPEN, S.UNCOLLECTIBLE],
    ['invoice.updated', S.OPEN, S.OPEN],
  ] as Array<[Stripe.Event.Type, InvoiceStatus, InvoiceStatus]>)('%s: %s → %s', async (type, from, to) => {
    // DRAFT rows have no Stripe id yet: the event finds them by metadata and links them.
    const row = await seedInvoice(t.database.db, {
      status: from,
      stripeInvoiceId: from === S.DRAFT ? null : undefined,
    });
    const remote = remoteFor(row);
    const event = await deliver(type, remote);
    expect((await settled(t.database.db, event.id)).status).toBe('processed');

    const invoice = await loadInvoice(t.database.db, row.id);
    expect(invoice.status).toBe(to);
    expect(invoice.stripeInvoiceId).toBe(remote.id);
    expect(invoice.lastStripeEventId).toBe(event.id);
    expect(invoice.lastStripeEventAt?.getTime()).toBe(event.created * 1000);
    expect(invoice.paymentUrl).toBe(remote.hosted_invoice_url);
    expect(invoice.pdfUrl).toBe(remote.invoice_pdf);
    expect(invoice.dueDate?.getTime()).toBe((remote.due_date as number) * 1000);
    const history = await historyOf(t.database.db, row.id);
    if (from === to) {
      expect(history).toHaveLength(0);
    } else {
      expect(history.map((h) => [h.fromStatus, h.toStatus, h.source, h.sourceRef])).toEqual([
        [from, to, StatusChangeSource.WEBHOOK, event.id],
      ]);
    }
    if (to === S.PAID) {
      expect(invoice.amountPaidMinor).toBe(12345n);
      expect(invoice.paidAt?.getTime()).toBe(event.created * 1000);
    }
    if (type === 'invoice.sent') {
      expect(invoice.sentAt).toBeInstanceOf(Date);
    }
  });

  it('applies an event delivered three times once (one history row)', async () => {
    const row = await seedInvoice(t.database.db);
    const event = stripeEvent('invoice.paid', invoiceForEvent('invoice.paid', remoteFor(row)));
    const results = await Promise.all([1, 2, 3].map(() => postWebhook(t.url, event)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.filter((r) => r.json.duplicate === false)).toHaveLength(1);
    await settled(t.database.db, event.id);
    expect((await historyOf(t.database.db, row.id)).map((h) => h.toStatus)).toEqual([S.PAID]);
  });

  it('never regresses: payment_failed arriving after paid leaves PAID', async () => {
    const row = await seedInvoice(t.database.db);
    const remote = remoteFor(row);
    const now = nowSeconds();
    const paid = await deliver('invoice.paid', remote, now);
    await settled(t.database.db, paid.id);
    const failed = await deliver('invoice.payment_failed', remote, now - 2);
    expect((await settled(t.database.db, failed.id)).status).toBe('processed');
    expect((await loadInvoice(t.database.db, row.id)).status).toBe(S.PAID);
    expect((await historyOf(t.database.db, row.id)).map((h) => h.toStatus)).toEqual([S.PAID]);
  });

  it('applies a payment whose events arrive after a newer invoice.updated (a final fact is never lost)', async () => {
    const row = await seedInvoice(t.database.db);
    const remote = remoteFor(row);
    const paidAt = nowSeconds() - 5;
    const updated = await deliver('invoice.updated', remote, paidAt + 2);
    await settled(t.database.db, updated.id);
    for (const type of ['invoice.payment_succeeded', 'invoice.paid'] as const) {
      await settled(t.database.db, (await deliver(type, remote, paidAt)).id);
    }
    const invoice = await loadInvoice(t.database.db, row.id);
    expect(invoice.status).toBe(S.PAID);
    expect(invoice.lastStripeEventId).toBe(updated.id); // the newest event stays the watermark
    expect((await historyOf(t.database.db, row.id)).map((h) => h.toStatus)).toEqual([S.PAID]);
  });

  it('voids an invoice whose payment outcome was unknown (PROCESSING) when Stripe voids it: not charged', async () => {
    const row = await seedInvoice(t.database.db, { status: S.PROCESSING });
    const event = await deliver('invoice.voided', remoteFor(row));
    expect((await settled(t.database.db, event.id)).status).toBe('processed');
    expect((await loadInvoice(t.database.db, row.id)).status).toBe(S.VOID);
    expect((await historyOf(t.database.db, row.id)).map((h) => h.toStatus)).toEqual([S.PAYMENT_FAILED, S.VOID]);
  });

  it('does not let an older non-final event undo a newer one: payment_failed after action_required', async () => {
    const row = await seedInvoice(t.database.db);
    const remote = remoteFor(row);
    const now = nowSeconds();
    await settled(t.database.db, (await deliver('invoice.payment_action_required', remote, now)).id);
    const failed = await deliver('invoice.payment_failed', remote, now - 3);
    expect((await settled(t.database.db, failed.id)).status).toBe('processed');
    expect((await loadInvoice(t.database.db, row.id)).status).toBe(S.REQUIRES_ACTION);
  });

  test.each([
    ['payment_failed then paid', ['invoice.payment_failed', 'invoice.paid'], [S.PAYMENT_FAILED, S.PAID]],
    ['paid then payment_failed', ['invoice.paid', 'invoice.payment_failed'], [S.PAID]],
  ] as Array<[string, Stripe.Event.Type[], InvoiceStatus[]]>)(
    'equal-second events (%s): the transition table decides, ends PAID',
    async (_label, types, expected) => {
      const row = await seedInvoice(t.database.db);
      const remote = remoteFor(row);
      const second = nowSeconds();
      for (const type of types) {
        await settled(t.database.db, (await deliver(type, remote, second)).id);
      }
      expect((await loadInvoice(t.database.db, row.id)).status).toBe(S.PAID);
      expect((await historyOf(t.database.db, row.id)).map((h) => h.toStatus)).toEqual(expected);
    },
  );

  test.each([[[0, 1, 2, 3]], [[3, 2, 1, 0]], [[2, 0, 3, 1]], [[1, 3, 0, 2]]])(
    'a real sequence delivered shuffled %j ends PAID with no regression in the history',
    async (order) => {
      const row = await seedInvoice(t.database.db, { status: S.DRAFT, stripeInvoiceId: null });
      const remote = remoteFor(row);
      const t0 = nowSeconds() - 10;
      const sequence: Array<[Stripe.Event.Type, number]> = [
        ['invoice.finalized', t0],
        ['invoice.payment_failed', t0 + 1],
        ['invoice.payment_succeeded', t0 + 2],
        ['invoice.paid', t0 + 2],
      ];
      const events = order.map((i) => {
        const [type, created] = sequence[i];
        return stripeEvent(type, invoiceForEvent(type, remote, created), { created });
      });
      for (const event of events) {
        expect((await postWebhook(t.url, event)).status).toBe(200);
      }
      for (const event of events) {
        expect((await settled(t.database.db, event.id)).status).toBe('processed');
      }
      expect((await loadInvoice(t.database.db, row.id)).status).toBe(S.PAID);
      const history = await historyOf(t.database.db, row.id);
      for (const change of history) {
        expect(canTransition(change.fromStatus as InvoiceStatus, change.toStatus)).toBe(true);
      }
      expect(history.at(-1)?.toStatus).toBe(S.PAID);
      expect(history.filter((h) => h.toStatus === S.PAID)).toHaveLength(1);
    },
  );

  it('retries an event that beat its invoice row, then applies it once the row exists', async () => {
    const id = randomUUID();
    const remote = remoteFor({ id });
    const event = await deliver('invoice.paid', remote);
    const retried = await driveUntil(
      clock,
      async () => {
        const stored = await findEvent(t.database.db, event.id);
        return stored && stored.attempts >= 2 ? stored : null;
      },
      POLL_MS,
    );
    expect(retried.status).toBe('pending');
    expect(retried.lastError).toMatch(/not stored yet/);

    await seedInvoice(t.database.db, { id, stripeInvoiceId: null });
    expect((await driveUntil(clock, () => settledEvent(t.database.db, event.id), POLL_MS)).status).toBe('processed');
    const invoice = await loadInvoice(t.database.db, id);
    expect(invoice.status).toBe(S.PAID);
    expect(invoice.stripeInvoiceId).toBe(remote.id);
    expect(await historyOf(t.database.db, id)).toHaveLength(1);
  });

  it('marks an event failed after the last retry, shows it in health, and a replay then applies it', async () => {
    const id = randomUUID();
    const event = await deliver('invoice.payment_failed', remoteFor({ id }));
    const failed = await driveUntil(clock, () => settledEvent(t.database.db, event.id), POLL_MS);
    expect(failed.status).toBe('failed');
    expect(failed.attempts).toBe(5);
    expect(failed.lastError).toMatch(/^attempt 5: InvoiceNotYetStoredError: .*not stored yet/);

    const health = await fetch(`${t.url}/api/v1/webhooks/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'unhealthy', failedCount: 1 });

    await seedInvoice(t.database.db, { id, stripeInvoiceId: null });
    const replayed = await replayWebhookEvent(t.database.db.orm.em.fork(), admin, event.id);
    expect(replayed).toMatchObject({ status: 'pending', attempts: 0 });
    expect(replayed.lastError).toBe(failed.lastError);
    // A replay is due at once; this instance's worker finds it at its next poll.
    expect((await driveUntil(clock, () => settledEvent(t.database.db, event.id), POLL_MS)).status).toBe('processed');
    expect((await loadInvoice(t.database.db, id)).status).toBe(S.PAYMENT_FAILED);
    expect((await fetch(`${t.url}/api/v1/webhooks/health`)).status).toBe(200);
  });

  it('applies an event as soon as the route has stored it, without waiting for the idle poll', async () => {
    const row = await seedInvoice(t.database.db);
    await clock.whenSleeping(); // the worker is idle, waiting for its next poll
    const polledAt = clock.now();
    const event = await deliver('invoice.paid', remoteFor(row));
    expect((await settled(t.database.db, event.id)).status).toBe('processed');
    // The clock never moved: no poll came, the route's wake-up did it.
    expect(clock.now()).toBe(polledAt);
    expect((await loadInvoice(t.database.db, row.id)).status).toBe(S.PAID);
  });

  it('end to end with the local Stripe delivering duplicated, reordered, delayed webhooks: ends PAID', async () => {
    await t.control.setWebhookMode({ duplicate: true, outOfOrder: true, outOfOrderWindowMs: 100, delayMs: 20 });
    try {
      const row = await seedInvoice(t.database.db, { status: S.DRAFT, stripeInvoiceId: null, totalMinor: 2000n });
      const customer = await t.stripe.customers.create({ email: 'ada@example.com' });
      const draft = await t.stripe.invoices.create({
        customer: customer.id,
        currency: 'usd',
        collection_method: 'charge_automatically',
        metadata: { agenthub_invoice_id: row.id },
      });
      await t.stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 2000, currency: 'usd' });
      await t.stripe.invoices.finalizeInvoice(draft.id);
      await t.stripe.invoices.pay(draft.id, { payment_method: 'pm_card_visa' });
      await t.control.waitForWebhooks();
      const invoice = await driveUntil(
        clock,
        async () => {
          const current = await loadInvoice(t.database.db, row.id);
          return current.status === S.PAID ? current : null;
        },
        POLL_MS,
      );
      expect(invoice).toMatchObject({ stripeInvoiceId: draft.id, amountPaidMinor: 2000n });
      expect(invoice.paymentUrl).toMatch(/^http/);
      const history = await historyOf(t.database.db, row.id);
      expect(history.map((h) => h.toStatus)).toEqual([S.OPEN, S.PAID]);
      const [counts] = await t.database.db.orm.em
        .fork()
        .getConnection()
        .execute(`select count(*)::int as n, count(distinct id)::int as d from webhook_events where object_id = ?`, [
          draft.id,
        ]);
      expect(counts.n).toBe(counts.d);
      expect(counts.n).toBeGreaterThanOrEqual(4);
    } finally {
      await t.control.setWebhookMode({ duplicate: false, outOfOrder: false, delayMs: 0 });
    }
  });

  describe('subscription mirror', () => {
    const mirror = (id: string) => t.database.db.orm.em.fork().findOne(StripeSubscription, id);

    it('creates, updates, ignores an older event, and marks a deletion', async () => {
      const sub = stripeSubscription();
      const t0 = nowSeconds() - 100;
      const send = async (type: string, object: Stripe.Subscription, created: number) => {
        const event = stripeEvent(type, object, { created });
        expect((await postWebhook(t.url, event)).status).toBe(200);
        expect((await settled(t.database.db, event.id)).status).toBe('processed');
      };

      await send('customer.subscription.created', sub, t0);
      expect(await mirror(sub.id)).toMatchObject({
        stripeCustomerId: sub.customer,
        status: 'active',
        cancelAtPeriodEnd: false,
      });
      expect((await mirror(sub.id))?.currentPeriodEnd?.getTime()).toBe(sub.items.data[0].current_period_end * 1000);

      await send('customer.subscription.updated', { ...sub, status: 'past_due', cancel_at_period_end: true }, t0 + 10);
      expect(await mirror(sub.id)).toMatchObject({ status: 'past_due', cancelAtPeriodEnd: true });

      // A late copy of an earlier state must not overwrite the newer one.
      await send('customer.subscription.updated', { ...sub, status: 'active' }, t0 + 5);
      expect(await mirror(sub.id)).toMatchObject({ status: 'past_due' });

      await send('customer.subscription.deleted', { ...sub, status: 'canceled', canceled_at: t0 + 20 }, t0 + 20);
      const deleted = await mirror(sub.id);
      expect(deleted).toMatchObject({ status: 'canceled' });
      expect(deleted?.canceledAt?.getTime()).toBe((t0 + 20) * 1000);
      expect(deleted?.lastEventAt?.getTime()).toBe((t0 + 20) * 1000);
    });
  });
});
