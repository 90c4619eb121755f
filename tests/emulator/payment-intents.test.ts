import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { startEmulator } from '../../emulator/server';
import { openInvoice, rejection, stripeClient, useHarness } from './helpers';

const h = useHarness({ webhookSecret: 'whsec_payment_intents' });

/** The PaymentIntent of an invoice, through its default invoice payment. */
async function intentOf(invoiceId: string): Promise<Stripe.PaymentIntent> {
  const inv = await h.stripe.invoices.retrieve(invoiceId, { expand: ['payments.data.payment.payment_intent'] });
  return inv.payments?.data[0].payment.payment_intent as Stripe.PaymentIntent;
}

/** Types of the events about `objectId`, oldest first. */
async function eventsAbout(objectId: string): Promise<string[]> {
  const events = await h.stripe.events.list({ limit: 100 });
  return events.data
    .filter((e) => (e.data.object as { id?: string }).id === objectId)
    .map((e) => e.type)
    .reverse();
}

describe('PaymentIntents and charges of invoice payments', () => {
  it('a finalized invoice has a stored PaymentIntent with the fields Stripe sends', async () => {
    const inv = await openInvoice(h.stripe, 1250);
    const expanded = await intentOf(inv.id);
    const pi = await h.stripe.paymentIntents.retrieve(expanded.id);
    expect(pi).toEqual(expanded);
    expect(pi).toMatchObject({
      object: 'payment_intent',
      amount: 1250,
      amount_received: 0,
      currency: 'usd',
      customer: inv.customer,
      status: 'requires_payment_method',
      last_payment_error: null,
      latest_charge: null,
      metadata: {},
      capture_method: 'automatic',
      confirmation_method: 'automatic',
      payment_method_types: ['card'],
      livemode: false,
    });
    expect(pi.created).toBeGreaterThan(0);
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_`));
    expect(await eventsAbout(pi.id)).toEqual(['payment_intent.created']);
    const listed = await h.stripe.paymentIntents.list({ customer: inv.customer as string });
    expect(listed.data.map((x) => x.id)).toEqual([pi.id]);
  });

  it('a decline is recorded on the PaymentIntent and on a failed charge, both retrievable', async () => {
    const inv = await openInvoice(h.stripe, 1500);
    const err = await rejection(
      h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_chargeDeclinedInsufficientFunds' }),
    );
    expect(err).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'insufficient_funds' });
    const chargeId = (err.raw as { charge: string }).charge;
    const pi = await h.stripe.paymentIntents.retrieve((err.payment_intent as Stripe.PaymentIntent).id);
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.latest_charge).toBe(chargeId);
    expect(pi.last_payment_error).toMatchObject({
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
      charge: chargeId,
      payment_method: { object: 'payment_method', card: { last4: '9995' } },
    });
    const charge = await h.stripe.charges.retrieve(chargeId);
    expect(charge).toMatchObject({
      object: 'charge',
      status: 'failed',
      paid: false,
      captured: false,
      amount: 1500,
      payment_intent: pi.id,
      customer: inv.customer,
      failure_code: 'card_declined',
      failure_message: 'Your card has insufficient funds.',
      outcome: { network_status: 'declined_by_network', reason: 'insufficient_funds', type: 'issuer_declined' },
    });
    expect(await eventsAbout(pi.id)).toEqual(['payment_intent.created', 'payment_intent.payment_failed']);
    expect(await eventsAbout(chargeId)).toEqual(['charge.failed']);

    // Paying again: a succeeded charge, the intent succeeded, its error cleared.
    await h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' });
    const paid = await h.stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    expect(paid).toMatchObject({ status: 'succeeded', amount_received: 1500, last_payment_error: null });
    const latest = paid.latest_charge as Stripe.Charge;
    expect(latest).toMatchObject({ status: 'succeeded', paid: true, amount_captured: 1500, failure_code: null });
    const charges = await h.stripe.charges.list({ payment_intent: pi.id });
    expect(charges.data.map((c) => c.status)).toEqual(['succeeded', 'failed']);
    expect(await eventsAbout(pi.id)).toEqual([
      'payment_intent.created',
      'payment_intent.payment_failed',
      'payment_intent.succeeded',
    ]);
  });

  it('the events reach the webhook endpoint, intent events before the invoice event', async () => {
    const inv = await openInvoice(h.stripe, 800);
    await h.control.waitForWebhooks();
    const before = h.receiver.received.length;
    await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_chargeDeclined' }));
    const got = await h.receiver.waitFor(before + 4);
    const types = got.slice(before).map((r) => (JSON.parse(r.body) as Stripe.Event).type);
    expect(types.slice(0, 4)).toEqual([
      'charge.failed',
      'payment_intent.payment_failed',
      'invoice.payment_failed',
      'invoice.updated',
    ]);
  });

  it('3-D Secure completed through payment_intents/:id/confirm with the client secret, as Stripe.js does', async () => {
    const inv = await openInvoice(h.stripe, 4200);
    const err = await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_authenticationRequired' }));
    expect(err.code).toBe('invoice_payment_intent_requires_action');
    const waiting = err.payment_intent as Stripe.PaymentIntent;
    expect(waiting).toMatchObject({ status: 'requires_action', next_action: { type: 'use_stripe_sdk' } });
    expect(await eventsAbout(waiting.id)).toEqual(['payment_intent.created', 'payment_intent.requires_action']);

    // The browser holds a publishable key and the client secret only.
    const browser = new Stripe('pk_test_browser', { ...h.emulator.stripeConfig, maxNetworkRetries: 0 });
    const secret = waiting.client_secret as string;
    const wrong = await rejection(browser.paymentIntents.retrieve(waiting.id, { client_secret: `${secret}x` }));
    expect(wrong.statusCode).toBe(404);
    const forbidden = await rejection(browser.invoices.retrieve(inv.id));
    expect(forbidden.statusCode).toBe(401);

    // Stripe.js sends `client_secret` with a publishable key; the server-side SDK's types leave it out.
    const asStripeJs = { client_secret: secret } as Stripe.PaymentIntentConfirmParams;
    const confirmed = await browser.paymentIntents.confirm(waiting.id, asStripeJs);
    expect(confirmed).toMatchObject({ status: 'succeeded', amount_received: 4200, next_action: null });
    const charge = await h.stripe.charges.retrieve(confirmed.latest_charge as string);
    expect(charge.payment_method_details?.card?.three_d_secure).toMatchObject({ result: 'authenticated' });
    expect(await h.stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'paid', amount_paid: 4200 });
    expect(await eventsAbout(waiting.id)).toEqual([
      'payment_intent.created',
      'payment_intent.requires_action',
      'payment_intent.succeeded',
    ]);

    const again = await rejection(h.stripe.paymentIntents.confirm(waiting.id));
    expect(again).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
  });

  it('confirm with a payment method pays the invoice, declines with 402, or asks for 3-D Secure (200)', async () => {
    const inv = await openInvoice(h.stripe, 990);
    const pi = await intentOf(inv.id);
    const declined = await rejection(
      h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }),
    );
    expect(declined).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'generic_decline' });
    const action = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_threeDSecure2Required' });
    expect(action.status).toBe('requires_action');
    expect((await h.stripe.invoices.retrieve(inv.id)).status).toBe('open');
    const paid = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(paid.status).toBe('succeeded');
    expect(await h.stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'paid', attempt_count: 3 });
  });

  it('a failed challenge leaves payment_intent_authentication_failure and no charge', async () => {
    const inv = await openInvoice(h.stripe, 300);
    await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_authenticationRequired' }));
    await h.control.completeThreeDSecure(inv.id, 'fail');
    const pi = await intentOf(inv.id);
    expect(pi).toMatchObject({
      status: 'requires_payment_method',
      latest_charge: null,
      last_payment_error: { code: 'payment_intent_authentication_failure' },
    });
  });

  it('void cancels the PaymentIntent; cancel gives the open invoice a new one', async () => {
    const voided = await openInvoice(h.stripe, 400);
    await h.stripe.invoices.voidInvoice(voided.id);
    const gone = await intentOf(voided.id);
    expect(gone).toMatchObject({ status: 'canceled', cancellation_reason: 'void_invoice' });
    expect(await eventsAbout(gone.id)).toEqual(['payment_intent.created', 'payment_intent.canceled']);

    const inv = await openInvoice(h.stripe, 500);
    const first = await intentOf(inv.id);
    const canceled = await h.stripe.paymentIntents.cancel(first.id, { cancellation_reason: 'abandoned' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    const twice = await rejection(h.stripe.paymentIntents.cancel(first.id));
    expect(twice).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    const withSecret = await h.stripe.invoices.retrieve(inv.id, { expand: ['confirmation_secret'] });
    expect(withSecret.confirmation_secret?.client_secret).not.toContain(first.id);
    await h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' });
    const second = await intentOf(inv.id);
    expect(second.id).not.toBe(first.id);
    expect(second.status).toBe('succeeded');
  });

  it('unknown ids are 404 resource_missing', async () => {
    expect(await rejection(h.stripe.paymentIntents.retrieve('pi_missing'))).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
    expect(await rejection(h.stripe.charges.retrieve('ch_missing'))).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
  });

  it('are kept in the state file across a restart, like the other objects', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stripe-emulator-pi-'));
    try {
      const stateFile = path.join(dir, 'state.json');
      const first = await startEmulator({ stateFile });
      const before = stripeClient(first);
      const inv = await openInvoice(before, 610);
      const err = await rejection(before.invoices.pay(inv.id, { payment_method: 'pm_card_chargeDeclined' }));
      await first.stop();

      const second = await startEmulator({ stateFile });
      try {
        const after = stripeClient(second);
        const pi = await after.paymentIntents.retrieve((err.payment_intent as Stripe.PaymentIntent).id);
        expect(pi.last_payment_error).toMatchObject({ decline_code: 'generic_decline' });
        expect(await after.charges.retrieve(pi.latest_charge as string)).toMatchObject({ status: 'failed' });
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
