import { StripeGatewayError } from '../../src/stripe';
import { type GatewayHarness, openInvoice, ourIds, paidPayments, startGatewayHarness } from './stripe-harness';

let h: GatewayHarness;

beforeAll(async () => {
  h = await startGatewayHarness();
});

afterAll(async () => {
  await h.stop();
});

describe('StripeGateway invoice lifecycle (emulator)', () => {
  it('creates, fills, finalizes, sends and pays an invoice', async () => {
    const since = new Date(Date.now() - 1_000);
    const open = await openInvoice(h.gateway, [1234n, 566n, 200n]);
    expect(open.invoice.status).toBe('open');
    expect(open.invoice.totalMinor).toBe(2000n);
    expect(open.invoice.hostedInvoiceUrl).toMatch(/^http/);
    expect(open.invoice.ours).toMatchObject({ invoiceId: open.invoiceId, period: '2026-10' });
    expect(open.invoice.number).toMatch(/^AH-2026-10-/);
    // What the snapshot leaves out, as Stripe holds it.
    const held = await h.stripe.invoices.retrieve(open.stripeInvoiceId);
    expect(held.collection_method).toBe('send_invoice');
    expect(held.auto_advance).toBe(false);
    expect(held.metadata).toMatchObject({ agenthub_invoice_id: open.invoiceId, agenthub_period: '2026-10' });

    const sent = await h.gateway.sendInvoice(open.invoiceId, open.stripeInvoiceId, open.expected);
    expect(sent.status).toBe('open');

    const result = await h.gateway.payInvoice({
      invoiceId: open.invoiceId,
      stripeInvoiceId: open.stripeInvoiceId,
      expected: open.expected,
      attempt: 1,
      paymentMethodId: 'pm_card_visa',
    });
    expect(result.outcome).toBe('paid');
    const invoice = result.outcome === 'paid' ? result.invoice : null;
    expect(invoice?.status).toBe('paid');
    expect(invoice?.amountPaidMinor).toBe(2000n);
    expect(invoice?.paidAt).toEqual(expect.any(Date));
    expect(invoice?.payments?.items[0]?.status).toBe('paid');

    const events = await h.gateway.listEventsSince(since, ['invoice.paid', 'invoice.finalized']);
    const ours = events.filter((e) => e.objectId === open.stripeInvoiceId);
    expect(ours.map((e) => e.type)).toEqual(['invoice.finalized', 'invoice.paid']);
  });

  it('stores our ids on the customer', async () => {
    const ids = ourIds();
    const id = await h.gateway.createCustomer({ customerId: ids.customerId, externalUserId: 'user_9' });
    const customer = await h.stripe.customers.retrieve(id);
    expect(customer).toMatchObject({ metadata: { agenthub_customer_id: ids.customerId, agenthub_user_id: 'user_9' } });
    expect(await h.gateway.createCustomer({ customerId: ids.customerId, externalUserId: 'user_9' })).toBe(id);
  });

  it('reports declines with their decline code', async () => {
    const open = await openInvoice(h.gateway);
    const pay = (attempt: number, paymentMethodId: string) =>
      h.gateway.payInvoice({
        invoiceId: open.invoiceId,
        stripeInvoiceId: open.stripeInvoiceId,
        expected: open.expected,
        attempt,
        paymentMethodId,
      });
    expect(await pay(1, 'pm_card_chargeDeclined')).toMatchObject({
      outcome: 'declined',
      code: 'card_declined',
      declineCode: 'generic_decline',
    });
    expect(await pay(2, 'pm_card_chargeDeclinedInsufficientFunds')).toMatchObject({
      outcome: 'declined',
      declineCode: 'insufficient_funds',
    });
    // The same attempt replays Stripe's stored 402 instead of charging again.
    expect(await pay(2, 'pm_card_chargeDeclinedInsufficientFunds')).toMatchObject({ outcome: 'declined' });
    expect(await pay(3, 'pm_card_visa')).toMatchObject({ outcome: 'paid' });
    expect(await paidPayments(h.stripe, open.stripeInvoiceId)).toBe(1);
  });

  it('returns requires_action with a client secret for 3-D Secure, then a later card succeeds', async () => {
    const open = await openInvoice(h.gateway);
    const result = await h.gateway.payInvoice({
      invoiceId: open.invoiceId,
      stripeInvoiceId: open.stripeInvoiceId,
      expected: open.expected,
      attempt: 1,
      paymentMethodId: 'pm_card_authenticationRequired',
    });
    expect(result.outcome).toBe('requires_action');
    if (result.outcome !== 'requires_action') {
      return;
    }
    expect(result.clientSecret).toMatch(/_secret_/);
    expect(result.invoice?.status).toBe('open');
    expect(result.invoice?.confirmationSecret).toBe(result.clientSecret);

    const retried = await h.gateway.payInvoice({
      invoiceId: open.invoiceId,
      stripeInvoiceId: open.stripeInvoiceId,
      expected: open.expected,
      attempt: 2,
      paymentMethodId: 'pm_card_visa',
    });
    expect(retried).toMatchObject({ outcome: 'paid', invoice: { status: 'paid', amountPaidMinor: 2500n } });
  });

  it('propagates bad requests (unknown payment method) as StripeGatewayError, not as an outcome', async () => {
    const open = await openInvoice(h.gateway);
    const error = await h.gateway
      .payInvoice({
        invoiceId: open.invoiceId,
        stripeInvoiceId: open.stripeInvoiceId,
        expected: open.expected,
        attempt: 1,
        paymentMethodId: 'pm_nope',
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StripeGatewayError);
    expect((error as StripeGatewayError).failure).toMatchObject({ kind: 'invalid_request', param: 'payment_method' });
  });
});
