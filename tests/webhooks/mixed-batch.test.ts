import type Stripe from 'stripe';
import { CreditNote } from '../../src/entities';
import { CreditNoteStatus, InvoiceStatus, Role } from '../../src/entities/enums';
import type { Database } from '../../src/entities/orm';
import { replayWebhookEvent } from '../../src/services/stripe-events/webhook-events.service';
import { DISPATCH_TABLE } from '../../src/webhooks';
import type { TestDatabase } from '../helpers/database';
import { createTestDatabase } from '../helpers/database';
import {
  applyInOneBatch,
  findEvent,
  historyOf,
  invoiceEvent,
  loadInvoice,
  nowSeconds,
  outgoingOf,
  remoteOf,
  runBatch,
  seedInvoice,
  stripeEvent,
  stripeId,
  storeEvent,
} from './fixtures';

let test: TestDatabase;
let db: Database;
beforeAll(async () => {
  test = await createTestDatabase();
  db = test.db;
});
afterAll(() => test.drop());

function paymentIntentFailed(id: string, code: string, declineCode: string | null): { id: string } {
  return {
    id,
    object: 'payment_intent',
    status: 'requires_payment_method',
    last_payment_error: { type: 'card_error', code, decline_code: declineCode, message: 'Your card was declined.' },
  } as unknown as Stripe.PaymentIntent;
}

/** A credit note made in the Stripe Dashboard before payment (no metadata of ours). */
function dashboardCreditNote(stripeInvoiceId: string, totalMinor: number): { id: string } {
  return {
    id: stripeId('cn'),
    object: 'credit_note',
    invoice: stripeInvoiceId,
    number: 'CN-DASH-0001',
    type: 'pre_payment',
    status: 'issued',
    total: totalMinor,
    currency: 'usd',
    memo: null,
    reason: null,
    refunds: [],
    lines: { object: 'list', data: [{ description: 'Goodwill', amount: totalMinor }], has_more: false },
    metadata: {},
  } as unknown as Stripe.CreditNote;
}

function chargeRefunded(paymentIntentId: string, refundedMinor: number): { id: string } {
  return {
    id: stripeId('ch'),
    object: 'charge',
    payment_intent: paymentIntentId,
    amount_captured: 12345,
    amount_refunded: refundedMinor,
    currency: 'usd',
  } as unknown as Stripe.Charge;
}

describe('webhook worker: a batch mixing invoice, payment intent, credit note and charge events', () => {
  it('applies each event once, in Stripe order, whatever is duplicated, late or replayed', async () => {
    const a = await seedInvoice(db, { status: InvoiceStatus.OPEN });
    const b = await seedInvoice(db, { status: InvoiceStatus.OPEN });
    const c = await seedInvoice(db, { status: InvoiceStatus.OPEN });
    const [piA, piB] = [stripeId('pi'), stripeId('pi')];
    const conn = db.orm.em.fork().getConnection();
    await conn.execute('update invoices set stripe_payment_intent_id = ? where id = ?', [piA, a.id]);
    await conn.execute('update invoices set stripe_payment_intent_id = ? where id = ?', [piB, b.id]);
    const t0 = nowSeconds() - 100;
    const aFailed = invoiceEvent('invoice.payment_failed', remoteOf(a), t0);
    const cCredited = { ...remoteOf(c), amount_due: 10000, pre_payment_credit_notes_amount: 2345 };
    const ev = {
      aFailed,
      aIntentFailed: stripeEvent(
        'payment_intent.payment_failed',
        paymentIntentFailed(piA, 'card_declined', 'insufficient_funds'),
        { created: t0 },
      ),
      bAction: invoiceEvent('invoice.payment_action_required', remoteOf(b), t0),
      cCredit: stripeEvent('credit_note.created', dashboardCreditNote(c.stripeInvoiceId!, 2345), { created: t0 + 1 }),
      // A decline of B's earlier attempt, delivered while 3-D Secure is pending: not applied.
      bIntentFailed: stripeEvent(
        'payment_intent.payment_failed',
        paymentIntentFailed(piB, 'card_declined', 'generic_decline'),
        { created: t0 + 1 },
      ),
      aPaid: invoiceEvent('invoice.paid', aFailed.data.object, t0 + 2),
      aSucceeded: invoiceEvent('invoice.payment_succeeded', aFailed.data.object, t0 + 2),
      cPaid: invoiceEvent('invoice.paid', cCredited, t0 + 3),
      aRefund: stripeEvent('charge.refunded', chargeRefunded(piA, 1000), { created: t0 + 4 }),
    };
    for (const event of Object.values(ev)) {
      expect(await storeEvent(db, event)).toEqual({ duplicate: false });
    }
    // Stripe delivers an event again (a retry after a slow answer): stored once.
    expect(await storeEvent(db, ev.aPaid)).toEqual({ duplicate: true });

    // The first batch takes every event.
    expect(await runBatch(db)).toEqual({ claimed: Object.keys(ev).length, deferred: 0 });
    for (const event of Object.values(ev)) {
      expect((await findEvent(db, event.id))?.status).toBe('processed');
    }

    // Later: A's first failure delivered late (older than what was applied), the refund's event sent again under a
    // new id, and an operator replaying the credit note's and the refund's events.
    const late = {
      aFailedLate: invoiceEvent('invoice.payment_failed', remoteOf(a), t0 + 1),
      aRefundAgain: stripeEvent('charge.refunded', chargeRefunded(piA, 1000), { created: t0 + 5 }),
    };
    for (const event of Object.values(late)) {
      await storeEvent(db, event);
    }
    const admin = { userId: 'admin-1', role: Role.ADMIN };
    await replayWebhookEvent(db.orm.em.fork(), admin, ev.cCredit.id);
    await replayWebhookEvent(db.orm.em.fork(), admin, ev.aRefund.id);
    expect(await runBatch(db)).toEqual({ claimed: 4, deferred: 0 });
    expect(await runBatch(db)).toEqual({ claimed: 0, deferred: 0 });

    // A: failed, its reason, paid, refunded 10.00 once.
    expect(await loadInvoice(db, a.id)).toMatchObject({
      status: InvoiceStatus.PAID,
      amountPaidMinor: 12345n,
      amountRefundedMinor: 1000n,
      lastPaymentErrorCode: null,
      stripeAttemptCount: 2,
    });
    expect((await historyOf(db, a.id)).map((h) => [h.fromStatus, h.toStatus, h.sourceRef, h.reason])).toEqual([
      [InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED, ev.aFailed.id, 'Stripe invoice.payment_failed'],
      [
        InvoiceStatus.PAYMENT_FAILED,
        InvoiceStatus.PAYMENT_FAILED,
        ev.aIntentFailed.id,
        'Your card was declined: insufficient funds',
      ],
      [InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.PAID, ev.aPaid.id, 'Stripe invoice.paid'],
      [InvoiceStatus.PAID, InvoiceStatus.PAID, ev.aRefund.id, 'Refunded $10.00 in Stripe'],
    ]);
    expect(
      (await outgoingOf(db, a.id)).map((e) => [e.type, e.data.invoice.status, e.data.invoice.amountPaidMinor]),
    ).toEqual([
      ['invoice.payment_failed', InvoiceStatus.PAYMENT_FAILED, 0],
      ['invoice.paid', InvoiceStatus.PAID, 12345],
      ['invoice.refunded', InvoiceStatus.PAID, 12345],
    ]);

    // B: waits for 3-D Secure; the earlier attempt's decline changed nothing.
    expect(await loadInvoice(db, b.id)).toMatchObject({
      status: InvoiceStatus.REQUIRES_ACTION,
      lastPaymentErrorCode: null,
    });
    expect((await historyOf(db, b.id)).map((h) => [h.fromStatus, h.toStatus, h.sourceRef])).toEqual([
      [InvoiceStatus.OPEN, InvoiceStatus.REQUIRES_ACTION, ev.bAction.id],
    ]);
    expect((await outgoingOf(db, b.id)).map((e) => e.type)).toEqual(['invoice.payment_action_required']);

    // C: credited 23.45 once (the replay found its note), then paid the rest.
    expect(await loadInvoice(db, c.id)).toMatchObject({
      status: InvoiceStatus.PAID,
      amountCreditedMinor: 2345n,
      amountPaidMinor: 10000n,
    });
    const notes = await db.orm.em.fork().find(CreditNote, { invoice: c.id });
    expect(notes.map((n) => [n.status, n.amountMinor, n.stripeCreditNoteId])).toEqual([
      [CreditNoteStatus.ISSUED, 2345n, (ev.cCredit.data.object as { id: string }).id],
    ]);
    expect((await historyOf(db, c.id)).map((h) => [h.fromStatus, h.toStatus, h.sourceRef])).toEqual([
      [InvoiceStatus.OPEN, InvoiceStatus.OPEN, ev.cCredit.id],
      [InvoiceStatus.OPEN, InvoiceStatus.PAID, ev.cPaid.id],
    ]);
    expect(
      (await outgoingOf(db, c.id)).map((e) => [e.type, e.data.invoice.status, e.data.invoice.amountPaidMinor]),
    ).toEqual([
      ['credit_note.created', InvoiceStatus.OPEN, 0],
      ['invoice.paid', InvoiceStatus.PAID, 10000],
    ]);
  });

  it('applies a batch one event at a time when an invoice it holds was written under it, each event once', async () => {
    const row = await seedInvoice(db, { status: InvoiceStatus.OPEN });
    const t0 = nowSeconds() - 50;
    const failed = invoiceEvent('invoice.payment_failed', remoteOf(row), t0);
    const events = [
      failed,
      stripeEvent('invoice.updated', failed.data.object, { created: t0 + 1 }),
      invoiceEvent('invoice.paid', failed.data.object, t0 + 2),
    ];
    // An invoice handler that also writes the invoice's row by SQL, as no handler of ours does: the batch's write of
    // the invoice (guarded by the row's version) must refuse to overwrite it.
    const handlers = {
      ...DISPATCH_TABLE,
      'invoice.updated': async (context: Parameters<(typeof DISPATCH_TABLE)['invoice.updated']>[0]) => {
        await context.em.execute("update invoices set void_reason = 'written under the batch' where id = ?", [row.id]);
        return DISPATCH_TABLE['invoice.updated'](context);
      },
    };
    expect(await applyInOneBatch(db, events, { handlers })).toEqual({ claimed: 3, deferred: 0 });
    for (const event of events) {
      expect((await findEvent(db, event.id))?.status).toBe('processed');
    }
    expect(await loadInvoice(db, row.id)).toMatchObject({
      status: InvoiceStatus.PAID,
      amountPaidMinor: 12345n,
      voidReason: 'written under the batch',
    });
    expect((await historyOf(db, row.id)).map((h) => [h.fromStatus, h.toStatus, h.sourceRef])).toEqual([
      [InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED, events[0].id],
      [InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.PAID, events[2].id],
    ]);
    expect((await outgoingOf(db, row.id)).map((e) => e.type)).toEqual(['invoice.payment_failed', 'invoice.paid']);
  });
});
