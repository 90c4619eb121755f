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
import { settled } from '../webhooks/fixtures';
import type { TestServer } from '../helpers/server';
import { collectOpen, startTestServer } from '../helpers/server';

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
    // The decline's own webhooks are applied before the next attempt: one applied after it would move the invoice back
    // to PAYMENT_FAILED until Stripe's next event (a known gap: stale payment_failed events are not yet told apart).
    await t.control.waitForWebhooks();
    const unsettled = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string }>>("select id from webhook_events where status in ('pending', 'processing')");
    for (const { id } of unsettled) {
      await settled(t.database.db, id);
    }
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
});
