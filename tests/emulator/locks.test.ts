import type Stripe from 'stripe';
import { openInvoice, rejection, startHarness, stripeClient, useHarness } from './helpers';

const h = useHarness();
beforeEach(() => h.control.reset());

/** An SDK client that retries as the server's does (2 retries), counting the requests it sends and their keys. */
function retryingClient(): { client: Stripe; sent: Array<string | undefined> } {
  const client = stripeClient(h.emulator, { maxNetworkRetries: 2 });
  const sent: Array<string | undefined> = [];
  client.on('request', (event: Stripe.RequestEvent) => sent.push(event.idempotency_key));
  return { client, sent };
}

describe('per-object write locks (lock contention)', () => {
  it('answers a write to an object another holds 429 lock_timeout with Stripe-Should-Retry: true; reads and other objects go on', async () => {
    const invoice = await openInvoice(h.stripe, 2500);
    const other = await openInvoice(h.stripe, 900);
    await h.control.holdLock(invoice.id);

    const err = await rejection(h.stripe.invoices.update(invoice.id, { metadata: { a: '1' } }));
    expect(err).toMatchObject({ type: 'StripeRateLimitError', statusCode: 429, code: 'lock_timeout' });
    expect(err.message).toMatch(
      /^This object cannot be accessed right now because another API request or Stripe process is currently accessing it\./,
    );
    expect(err.headers?.['stripe-should-retry']).toBe('true');
    expect(err.headers?.['stripe-rate-limited-reason']).toBeUndefined();
    // A write that names it as its parent (an item on it, a credit note of it) takes its lock too.
    const item = await rejection(
      h.stripe.invoiceItems.create({ customer: invoice.customer as string, invoice: invoice.id, amount: 100 }),
    );
    expect(item).toMatchObject({ statusCode: 429, code: 'lock_timeout' });
    expect(await rejection(h.stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' }))).toMatchObject({
      code: 'lock_timeout',
    });

    // Nothing was done; reading it and writing to another object are not held up.
    expect(await h.stripe.invoices.retrieve(invoice.id)).toMatchObject({ status: 'open', metadata: {} });
    expect((await h.stripe.invoices.pay(other.id, { payment_method: 'pm_card_visa' })).status).toBe('paid');
    expect(await h.control.locks()).toMatchObject({ data: [{ object: invoice.id, refused: 3 }], refused: 3 });

    expect(await h.control.releaseLock(invoice.id)).toEqual({ released: true });
    expect((await h.stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' })).status).toBe('paid');
  });

  it('does not keep a refused request for idempotent replay: the same key runs once the lock is free', async () => {
    const invoice = await openInvoice(h.stripe, 2500);
    await h.control.holdLock(invoice.id, { refusals: 1 });
    const pay = () =>
      h.stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' }, { idempotencyKey: 'pay-once' });
    expect(await rejection(pay())).toMatchObject({ code: 'lock_timeout' });
    // The lock gave way after refusing one write.
    expect((await h.control.locks()).data).toEqual([]);
    const paid = await pay();
    expect(paid.status).toBe('paid');
    expect(paid.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });

  it('lets the SDK retry it with the same idempotency key (what the server relies on), and the write happens once', async () => {
    const invoice = await openInvoice(h.stripe, 2500);
    await h.control.holdLock(invoice.id, { refusals: 2 });
    const { client, sent } = retryingClient();
    const paid = await client.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' });
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 2500 });
    expect(sent).toHaveLength(3);
    expect(new Set(sent).size).toBe(1);
    expect((await h.stripe.invoicePayments.list({ invoice: invoice.id })).data.map((p) => p.status)).toEqual(['paid']);
    expect((await h.control.locks()).refused).toBe(2);
  });

  it("makes the 429 fault with shouldRetry: true Stripe's lock timeout, retried by the SDK like the real one", async () => {
    await h.control.injectFault({ kind: '429', path: '/v1/customers', method: 'POST', count: 1, shouldRetry: true });
    const { client, sent } = retryingClient();
    expect((await client.customers.create({ email: 'ada@example.com' })).email).toBe('ada@example.com');
    expect(sent).toHaveLength(2);

    await h.control.injectFault({ kind: '429', path: '/v1/customers', method: 'POST', count: 1, shouldRetry: true });
    const err = await rejection(h.stripe.customers.create({}));
    expect(err).toMatchObject({ statusCode: 429, code: 'lock_timeout' });
    expect(err.headers?.['stripe-should-retry']).toBe('true');
  });

  it('holds no lock for a request a hold fault keeps before Stripe acts on it', async () => {
    const invoice = await openInvoice(h.stripe, 2500);
    const hold = await h.control.holdRequests({ path: `/v1/invoices/${invoice.id}/void`, count: 1 });
    const voiding = h.stripe.invoices.voidInvoice(invoice.id).catch((e: unknown) => e);
    await h.control.waitForHeld(hold.id);
    expect((await h.stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' })).status).toBe('paid');
    await h.control.release(hold.id);
    expect(await voiding).toMatchObject({ statusCode: 400 });
  });

  it('gives the realistic profile a processing time per write, and the control API sets it', async () => {
    const realistic = await startHarness({ delivery: { profile: 'realistic', seed: 1 } });
    try {
      expect((await realistic.control.locks()).modes).toEqual({ writeMs: 5 });
      expect(await realistic.control.setLockModes({ writeMs: 0 })).toEqual({ writeMs: 0 });
      await realistic.control.reset();
      expect((await realistic.control.locks()).modes).toEqual({ writeMs: 5 });
      expect((await realistic.stripe.customers.create({ name: 'Ada' })).name).toBe('Ada');
    } finally {
      await realistic.emulator.stop();
    }
    expect((await h.control.locks()).modes).toEqual({ writeMs: 0 });
    await expect(h.control.holdLock('not an id')).rejects.toThrow(/400/);
  });
});
