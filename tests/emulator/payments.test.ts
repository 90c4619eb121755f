import type Stripe from 'stripe';
import { openInvoice, rejection, useHarness } from './helpers';

const h = useHarness();

async function eventTypes(invoiceId: string): Promise<string[]> {
  const events = await h.stripe.events.list({ limit: 100 });
  return events.data
    .filter((e) => (e.data.object as { id?: string }).id === invoiceId)
    .map((e) => e.type)
    .reverse();
}

describe('test payment methods', () => {
  it.each([
    ['pm_card_chargeDeclined', 'generic_decline', 'Your card was declined.'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds', 'Your card has insufficient funds.'],
  ])('%s fails with 402 card_declined / %s and leaves the invoice open', async (pm, declineCode, message) => {
    const inv = await openInvoice(h.stripe, 1500);
    const err = await rejection(h.stripe.invoices.pay(inv.id, { payment_method: pm }));
    expect(err.type).toBe('StripeCardError');
    expect(err.statusCode).toBe(402);
    expect(err.code).toBe('card_declined');
    expect(err.decline_code).toBe(declineCode);
    expect(err.message).toBe(message);

    const after = await h.stripe.invoices.retrieve(inv.id);
    expect(after).toMatchObject({
      status: 'open',
      attempt_count: 1,
      attempted: true,
      amount_paid: 0,
      amount_remaining: 1500,
    });
    expect(await eventTypes(inv.id)).toEqual([
      'invoice.created',
      'invoice.finalized',
      'invoice.payment_failed',
      'invoice.updated',
    ]);

    const paid = await h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' });
    expect(paid).toMatchObject({ status: 'paid', attempt_count: 2, amount_paid: 1500 });
  });

  it('pm_card_authenticationRequired needs 3-D Secure: 402, action event, confirmation_secret', async () => {
    const inv = await openInvoice(h.stripe, 4200);
    const err = await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_authenticationRequired' }));
    expect(err.statusCode).toBe(402);
    expect(err.code).toBe('invoice_payment_intent_requires_action');
    const pi = err.payment_intent as { client_secret: string; status: string };
    expect(pi.status).toBe('requires_action');

    const withSecret = await h.stripe.invoices.retrieve(inv.id, { expand: ['confirmation_secret'] });
    expect(withSecret.status).toBe('open');
    expect(withSecret.confirmation_secret).toEqual({ client_secret: pi.client_secret, type: 'payment_intent' });
    expect(pi.client_secret).toMatch(/^pi_\w+_secret_\w+$/);
    expect(await eventTypes(inv.id)).toContain('invoice.payment_action_required');

    const done = await h.control.completeThreeDSecure(inv.id, 'approve');
    expect(done).toEqual({ result: 'paid', status: 'paid' });
    const paid = await h.stripe.invoices.retrieve(inv.id);
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 4200, attempt_count: 1 });
    expect(await eventTypes(inv.id)).toEqual([
      'invoice.created',
      'invoice.finalized',
      'invoice.payment_action_required',
      'invoice.updated',
      'invoice.updated',
      'invoice.paid',
      'invoice.payment_succeeded',
    ]);
  });

  it('expands the payment intent of an invoice payment: its status follows the payment', async () => {
    const intentStatus = async (id: string): Promise<string> => {
      const inv = await h.stripe.invoices.retrieve(id, { expand: ['payments.data.payment.payment_intent'] });
      const intent = inv.payments?.data[0].payment.payment_intent as Stripe.PaymentIntent;
      expect(intent).toMatchObject({ object: 'payment_intent', id: expect.stringMatching(/^pi_/) });
      return intent.status;
    };
    const inv = await openInvoice(h.stripe, 700);
    expect(await intentStatus(inv.id)).toBe('requires_payment_method');
    await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_chargeDeclined' }));
    expect(await intentStatus(inv.id)).toBe('requires_payment_method');
    await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_authenticationRequired' }));
    expect(await intentStatus(inv.id)).toBe('requires_action');
    await h.control.completeThreeDSecure(inv.id, 'approve');
    expect(await intentStatus(inv.id)).toBe('succeeded');
    const voided = await openInvoice(h.stripe, 700);
    await h.stripe.invoices.voidInvoice(voided.id);
    expect(await intentStatus(voided.id)).toBe('canceled');
  });

  it('an invoice marked uncollectible while its payment awaits 3-D Secure is still paid when the customer authenticates', async () => {
    const inv = await openInvoice(h.stripe, 800);
    await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_authenticationRequired' }));
    expect((await h.stripe.invoices.markUncollectible(inv.id)).status).toBe('uncollectible');
    const done = await h.control.completeThreeDSecure(inv.id, 'approve');
    expect(done).toEqual({ result: 'paid', status: 'paid' });
    expect(await h.stripe.invoices.retrieve(inv.id)).toMatchObject({ status: 'paid', amount_paid: 800 });
    expect((await eventTypes(inv.id)).slice(-2)).toEqual(['invoice.paid', 'invoice.payment_succeeded']);
  });

  it('a failed 3-D Secure challenge emits invoice.payment_failed and keeps the invoice open', async () => {
    const inv = await openInvoice(h.stripe, 900);
    await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_authenticationRequired' }));
    const done = await h.control.completeThreeDSecure(inv.id, 'fail');
    expect(done).toEqual({ result: 'failed', status: 'open' });
    expect((await eventTypes(inv.id)).at(-1)).toBe('invoice.payment_failed');
  });

  it('uses the customer default payment method when none is passed, and errors without one', async () => {
    const customer = await h.stripe.customers.create({ invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    await h.stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 300 });
    const paid = await h.stripe.invoices.pay(draft.id);
    expect(paid.status).toBe('paid');

    const inv = await openInvoice(h.stripe, 300);
    const err = await rejection(h.stripe.invoices.pay(inv.id));
    expect(err.statusCode).toBe(400);
    expect(err.param).toBe('payment_method');
  });

  it('rejects an unknown payment method with 404', async () => {
    const inv = await openInvoice(h.stripe, 300);
    const err = await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_nope' }));
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('resource_missing');
  });

  it('retrieves test payment methods', async () => {
    const pm = await h.stripe.paymentMethods.retrieve('pm_card_visa');
    expect(pm).toMatchObject({ id: 'pm_card_visa', type: 'card', card: { brand: 'visa', last4: '4242' } });
  });

  it('attaches test payment methods to a customer (as new ids that keep their card behaviour)', async () => {
    const customer = await h.stripe.customers.create({});
    const visa = await h.stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    expect(visa.id).not.toBe('pm_card_visa');
    expect(visa).toMatchObject({ customer: customer.id, card: { last4: '4242' } });
    const declining = await h.stripe.paymentMethods.attach('pm_card_chargeDeclined', { customer: customer.id });
    const listed = await h.stripe.customers.listPaymentMethods(customer.id);
    expect(listed.data.map((pm) => pm.id)).toEqual([declining.id, visa.id]);

    await h.stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: declining.id } });
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    await h.stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 250 });
    const err = await rejection(h.stripe.invoices.pay(draft.id));
    expect(err.decline_code).toBe('generic_decline');
    expect((await h.stripe.invoices.pay(draft.id, { payment_method: visa.id })).status).toBe('paid');

    const detached = await h.stripe.paymentMethods.detach(visa.id);
    expect(detached.customer).toBeNull();
    expect((await h.stripe.paymentMethods.list({ customer: customer.id })).data.map((pm) => pm.id)).toEqual([
      declining.id,
    ]);
  });

  it('paid_out_of_band marks the invoice paid without a charge', async () => {
    const inv = await openInvoice(h.stripe, 800);
    const paid = await h.stripe.invoices.pay(inv.id, { paid_out_of_band: true });
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 800, amount_paid_off_stripe: 800, attempt_count: 0 });
  });

  it('voiding cancels the open invoice payment', async () => {
    const inv = await openInvoice(h.stripe, 800);
    await h.stripe.invoices.voidInvoice(inv.id);
    const payments = await h.stripe.invoicePayments.list({ invoice: inv.id });
    expect(payments.data[0]).toMatchObject({ status: 'canceled', amount_paid: null, amount_requested: 800 });
    expect(payments.data[0].status_transitions.canceled_at).toEqual(expect.any(Number));
  });
});
