import { print } from 'graphql';
import Stripe from 'stripe';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import {
  CreateInvoiceDocument,
  InvoicePaymentOutcomeDocument,
  PayInvoiceDocument,
  PaymentStatusChangedDocument,
} from '../generated/graphql';
import type { PaymentStatusChangedSubscription } from '../generated/graphql';
import { operator } from '../helpers/fixtures';
import { loadInvoice, postWebhook, settled } from '../webhooks/fixtures';
import type { TestServer } from '../helpers/server';
import { TEST_WEBHOOK_SECRET, collectOpen, startTestServer } from '../helpers/server';

/** Why a payment failed reaches our data and the API, whichever way Stripe tells it: the 402 or the webhook. */
describe('payment errors: the decline reason and 3-D Secure, stored and served', () => {
  let t: TestServer;

  const openInvoice = async (userId: string): Promise<{ id: string; paymentUrl: string }> => {
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await t.token(userId) });
    const invoice = res.body.data!.createInvoice;
    if (invoice.__typename !== 'Invoice' || !invoice.paymentUrl) {
      throw new Error(`expected an open invoice, got ${JSON.stringify(invoice)}`);
    }
    return { id: invoice.id, paymentUrl: invoice.paymentUrl };
  };
  const outcome = async (userId: string, id: string) => {
    const res = await t.gql(InvoicePaymentOutcomeDocument, { id }, { token: await t.token(userId) });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.invoice;
  };
  const feedOf = async (userId: string, invoiceId: string) =>
    collectOpen<PaymentStatusChangedSubscription>(
      t.server,
      t.wsClient(await t.token(userId)),
      print(PaymentStatusChangedDocument),
      { invoiceId },
    );
  /** The hosted page's card form, posted as the browser does. */
  const payOnHostedPage = async (paymentUrl: string, cardNumber: string): Promise<void> => {
    const res = await fetch(`${paymentUrl}/pay`, {
      method: 'POST',
      body: new URLSearchParams({ card_number: cardNumber, exp: '12/34', cvc: '123' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
  };

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  it('a decline through payInvoice stores code, decline code and message; the history says why', async () => {
    const invoice = await openInvoice('u-decline-api');
    const res = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_chargeDeclinedInsufficientFunds' },
      { token: await t.token('u-decline-api') },
    );
    expect(res.body.data?.payInvoice).toMatchObject({
      __typename: 'PaymentDeclined',
      declineCode: 'insufficient_funds',
    });
    const read = await outcome('u-decline-api', invoice.id);
    expect(read).toMatchObject({
      status: 'PAYMENT_FAILED',
      requiredAction: null,
      lastPaymentError: {
        code: 'card_declined',
        declineCode: 'insufficient_funds',
        message: 'Your card has insufficient funds.',
        reason: 'Your card was declined: insufficient funds',
      },
    });
    expect(read.statusHistory.at(-1)).toEqual({
      to: 'PAYMENT_FAILED',
      source: 'API',
      reason: 'Your card was declined: insufficient funds',
    });
  });

  it('a decline on the hosted page reaches us through payment_intent.payment_failed, with its reason, live', async () => {
    const invoice = await openInvoice('u-decline-page');
    const feed = await feedOf('u-decline-page', invoice.id);
    await payOnHostedPage(invoice.paymentUrl, '4000000000009995');
    const [failed] = await feed.waitFor(1);
    // Stripe sends payment_intent.payment_failed and invoice.payment_failed in the same second, in no promised order:
    // the change carries the decline's reason when the PaymentIntent's event came first, else the invoice event's name.
    expect(failed.paymentStatusChanged).toMatchObject({
      previousStatus: 'OPEN',
      status: 'PAYMENT_FAILED',
      source: 'WEBHOOK',
    });
    expect(['Your card was declined: insufficient funds', 'Stripe invoice.payment_failed']).toContain(
      failed.paymentStatusChanged.reason,
    );
    feed.stop();
    // Either way the reason lands on the invoice once the PaymentIntent's event is applied.
    await t.control.waitForWebhooks();
    const [intentEvent] = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string }>>(
        "select id from webhook_events where type = 'payment_intent.payment_failed' order by received_at desc limit 1",
      );
    await settled(t.database.db, intentEvent.id);
    expect((await outcome('u-decline-page', invoice.id)).lastPaymentError).toMatchObject({
      code: 'card_declined',
      declineCode: 'insufficient_funds',
      reason: 'Your card was declined: insufficient funds',
    });
  });

  it('3-D Secure shows what to do; confirming the PaymentIntent with its client secret pays it, error cleared', async () => {
    const invoice = await openInvoice('u-3ds-confirm');
    const token = await t.token('u-3ds-confirm');
    await t.gql(PayInvoiceDocument, { invoiceId: invoice.id, paymentMethodId: 'pm_card_chargeDeclined' }, { token });
    // The decline's webhooks may be applied before or after the next attempt: a late one moves nothing (Stripe's
    // attempt count tells it apart; see the test below).
    const res = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_authenticationRequired' },
      { token },
    );
    const action = res.body.data!.payInvoice;
    if (action.__typename !== 'PaymentRequiresAction' || !action.clientSecret) {
      throw new Error(`expected PaymentRequiresAction, got ${JSON.stringify(action)}`);
    }
    const waiting = await outcome('u-3ds-confirm', invoice.id);
    expect(waiting).toMatchObject({
      status: 'REQUIRES_ACTION',
      requiredAction: { kind: 'THREE_D_SECURE', url: invoice.paymentUrl },
    });
    expect(waiting.requiredAction?.message).toMatch(/^Authentication required/);
    expect(waiting.statusHistory.at(-1)?.reason).toMatch(/^Authentication required/);

    const feed = await feedOf('u-3ds-confirm', invoice.id);
    // What Stripe.js does in the customer's browser: the publishable key and the client secret only.
    const paymentIntentId = action.clientSecret.split('_secret_')[0];
    const browser = new Stripe('pk_test_browser', {
      ...t.emulator.stripeConfig,
      maxNetworkRetries: 0,
    });
    const confirmed = await browser.paymentIntents.confirm(paymentIntentId, {
      client_secret: action.clientSecret,
    } as Stripe.PaymentIntentConfirmParams);
    expect(confirmed.status).toBe('succeeded');
    const [paid] = await feed.waitFor(1);
    expect(paid.paymentStatusChanged).toMatchObject({ previousStatus: 'REQUIRES_ACTION', status: 'PAID' });
    feed.stop();
    expect(await outcome('u-3ds-confirm', invoice.id)).toMatchObject({
      status: 'PAID',
      lastPaymentError: null,
      requiredAction: null,
    });
  });

  it('a decline delivered after the next attempt asked for 3-D Secure moves nothing; the 3-D Secure failure does', async () => {
    const userId = 'u-stale-decline';
    const invoice = await openInvoice(userId);
    const token = await t.token(userId);
    const db = t.database.db;
    const settleAll = async (): Promise<void> => {
      await t.control.waitForWebhooks();
      const rows = await db.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ id: string }>>("select id from webhook_events where status in ('pending', 'processing')");
      for (const { id } of rows) {
        await settled(db, id);
      }
    };
    await settleAll();
    // The decline's webhooks are held back (nothing is delivered while the local Stripe has no target)…
    t.emulator.setWebhookTarget(null);
    const declined = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_chargeDeclined' },
      { token },
    );
    expect(declined.body.data?.payInvoice.__typename).toBe('PaymentDeclined');
    const row = await loadInvoice(db, invoice.id);
    const stripeInvoiceId = row.stripeInvoiceId!;
    const late = (await t.stripe.events.list({ limit: 100 })).data
      .filter((e) => ['invoice.payment_failed', 'payment_intent.payment_failed'].includes(e.type))
      .filter((e) => [stripeInvoiceId, row.stripePaymentIntentId].includes((e.data.object as { id: string }).id));
    expect(late.map((e) => e.type).sort()).toEqual(['invoice.payment_failed', 'payment_intent.payment_failed']);
    t.emulator.setWebhookTarget(`${t.url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
    // …the next attempt needs 3-D Secure, and its own events are applied…
    const action = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_authenticationRequired' },
      { token },
    );
    expect(action.body.data?.payInvoice.__typename).toBe('PaymentRequiresAction');
    await settleAll();
    // …then the decline's events arrive, invoice's first and the PaymentIntent's after (any order would do).
    for (const event of late.sort((a) => (a.type.startsWith('invoice.') ? -1 : 1))) {
      expect((await postWebhook(t.url, event)).status).toBe(200);
      const stored = await settled(db, event.id);
      expect(stored.status).toBe('processed');
    }
    expect(await outcome(userId, invoice.id)).toMatchObject({ status: 'REQUIRES_ACTION' });
    // Nothing moved it back, not even for a moment: the history ends with the 3-D Secure request.
    const read = await outcome(userId, invoice.id);
    expect(read.statusHistory.at(-1)).toMatchObject({ to: 'REQUIRES_ACTION', source: 'API' });

    // The current attempt's failure still applies: the customer fails the challenge.
    const feed = await feedOf(userId, invoice.id);
    await t.control.completeThreeDSecure(stripeInvoiceId, 'fail');
    const [failed] = await feed.waitFor(1);
    feed.stop();
    expect(failed.paymentStatusChanged).toMatchObject({ previousStatus: 'REQUIRES_ACTION', status: 'PAYMENT_FAILED' });
  });

  it("a decline's reason that arrives after invoice.payment_failed moved the invoice is pushed live as its own entry", async () => {
    const userId = 'u-reason-late';
    const invoice = await openInvoice(userId);
    const db = t.database.db;
    await t.control.waitForWebhooks();
    // The decline's webhooks are held back, to be posted in the order under test.
    t.emulator.setWebhookTarget(null);
    await payOnHostedPage(invoice.paymentUrl, '4000000000009995');
    const row = await loadInvoice(db, invoice.id);
    const events = (await t.stripe.events.list({ limit: 100 })).data
      .filter((e) => ['invoice.payment_failed', 'payment_intent.payment_failed'].includes(e.type))
      .filter((e) => [row.stripeInvoiceId, row.stripePaymentIntentId].includes((e.data.object as { id: string }).id));
    t.emulator.setWebhookTarget(`${t.url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
    const invoiceEvent = events.find((e) => e.type === 'invoice.payment_failed')!;
    const intentEvent = events.find((e) => e.type === 'payment_intent.payment_failed')!;

    expect((await postWebhook(t.url, invoiceEvent)).status).toBe(200);
    expect((await settled(db, invoiceEvent.id)).status).toBe('processed');
    expect(await outcome(userId, invoice.id)).toMatchObject({ status: 'PAYMENT_FAILED', lastPaymentError: null });

    const feed = await feedOf(userId, invoice.id);
    expect((await postWebhook(t.url, intentEvent)).status).toBe(200);
    const [reason] = await feed.waitFor(1);
    feed.stop();
    expect(reason.paymentStatusChanged).toMatchObject({
      previousStatus: 'PAYMENT_FAILED',
      status: 'PAYMENT_FAILED',
      source: 'WEBHOOK',
      reason: 'Your card was declined: insufficient funds',
    });
    expect((await outcome(userId, invoice.id)).lastPaymentError).toMatchObject({ declineCode: 'insufficient_funds' });
  });
});
