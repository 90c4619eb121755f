import type Stripe from 'stripe';
import { ManualClock } from '../helpers/clock';
import { rejection, stripeClient, useHarness } from './helpers';

// The emulator's time (its rate limit's window) moves only when a test moves it.
const clock = new ManualClock();

const h = useHarness({ clock });
beforeEach(() => h.control.reset());

describe('fault injection', () => {
  it('injects a 500 that the SDK reports, and only on matching paths', async () => {
    await h.control.injectFault({ kind: '500', path: '/v1/invoices', count: 1 });
    const customer = await h.stripe.customers.create({}); // not matching
    const err = await rejection(h.stripe.invoices.create({ customer: customer.id }));
    expect(err.type).toBe('StripeAPIError');
    expect(err.statusCode).toBe(500);
    expect((await h.stripe.invoices.create({ customer: customer.id })).status).toBe('draft');
    expect(await h.control.faults()).toEqual([]);
  });

  it('lets the SDK retry a 500 when it is allowed to (maxNetworkRetries)', async () => {
    await h.control.injectFault({ kind: '500', path: '/v1/customers', count: 1 });
    const retrying = stripeClient(h.emulator, { maxNetworkRetries: 1 });
    const customer = await retrying.customers.create({ email: 'retry@example.com' });
    expect(customer.email).toBe('retry@example.com');
    expect((await h.stripe.customers.list()).data).toHaveLength(1);
  });

  it("injects the rate limit's 429: Stripe-Rate-Limited-Reason, and Stripe-Should-Retry only when asked", async () => {
    await h.control.injectFault({ kind: '429', path: '/v1/customers', count: 1 });
    const err = await rejection(h.stripe.customers.list());
    expect(err.type).toBe('StripeRateLimitError');
    expect(err.statusCode).toBe(429);
    expect(err.code).toBe('rate_limit');
    expect(err.headers?.['stripe-rate-limited-reason']).toBe('global-rate');
    expect(err.headers?.['stripe-should-retry']).toBeUndefined();
    await h.control.injectFault({ kind: '429', path: '/v1/customers', count: 1, shouldRetry: true });
    expect((await rejection(h.stripe.customers.list())).headers?.['stripe-should-retry']).toBe('true');
  });

  it('resets connections (the SDK retries a closed connection once, so two resets surface)', async () => {
    await h.control.injectFault({ kind: 'reset', path: '/v1/customers', count: 2 });
    const err = await rejection(h.stripe.customers.list());
    expect(err.type).toBe('StripeConnectionError');
    expect((await h.stripe.customers.list()).object).toBe('list');
  });

  it('hangs requests until the client times out', async () => {
    await h.control.injectFault({ kind: 'hang', path: '/v1/customers', count: 1 });
    const impatient = stripeClient(h.emulator, { timeout: 200 });
    const err = await rejection(impatient.customers.list());
    expect(err.type).toBe('StripeConnectionError');
  });

  it('holds a request before acting on it until it is released, and says when it holds one', async () => {
    const hold = await h.control.holdRequests({ path: '/v1/customers', method: 'POST', count: 1 });
    const creating = h.stripe.customers.create({ email: 'held@example.com' });
    expect(await h.control.waitForHeld(hold.id)).toEqual({ id: hold.id, held: 1, hits: 1 });
    // Stripe has not acted yet, and other requests go through meanwhile.
    expect((await h.stripe.customers.list()).data).toEqual([]);
    expect(await h.control.release(hold.id)).toEqual({ released: 1 });
    expect((await creating).email).toBe('held@example.com');
    expect((await h.stripe.customers.list()).data).toHaveLength(1);
    // Used up (count 1) and released: the rule is gone.
    expect(await h.control.faults()).toEqual([]);
    await expect(h.control.waitForHeld(hold.id)).rejects.toThrow(/404/);
  });

  it('lets held requests go on when the faults are cleared', async () => {
    const hold = await h.control.holdRequests({ path: '/v1/customers', method: 'POST' });
    const first = h.stripe.customers.create({ email: 'one@example.com' });
    const second = h.stripe.customers.create({ email: 'two@example.com' });
    expect(await h.control.waitForHeld(hold.id, 2)).toMatchObject({ held: 2, hits: 2 });
    await h.control.clearFaults();
    expect([(await first).email, (await second).email]).toEqual(['one@example.com', 'two@example.com']);
  });

  it('applies a rate (probability) to matching requests', async () => {
    await h.control.injectFault({ kind: '500', path: '/v1/customers', rate: 0.5 });
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => h.stripe.customers.list()));
    const failed = results.filter((r) => r.status === 'rejected').length;
    expect(failed).toBeGreaterThan(5);
    expect(failed).toBeLessThan(35);
  });
});

describe('rate limit', () => {
  it('answers 429 rate_limit beyond N requests per second', async () => {
    await h.control.setRateLimit(5);
    const burst = async (n: number) => {
      const results = await Promise.allSettled(Array.from({ length: n }, () => h.stripe.customers.list()));
      return results.filter(
        (r): r is PromiseRejectedResult =>
          r.status === 'rejected' && (r.reason as Stripe.errors.StripeError).statusCode === 429,
      );
    };
    // The emulator's clock stands still: all 12 land in one second of its time, however slowly they are sent.
    const limited = await burst(12);
    expect(limited).toHaveLength(7);
    expect((limited[0].reason as Stripe.errors.StripeError).type).toBe('StripeRateLimitError');
    expect((limited[0].reason as Stripe.errors.StripeError).code).toBe('rate_limit');
    // Still within that second: nothing more; a second later the window has emptied.
    clock.advance(999);
    expect(await burst(1)).toHaveLength(1);
    clock.advance(1);
    expect(await burst(6)).toHaveLength(1);
    await h.control.setRateLimit(null);
    await expect(h.stripe.customers.list()).resolves.toMatchObject({ object: 'list' });
  });
});

describe('test clock', () => {
  it('auto-advances drafts after an hour: finalizes and charges the default payment method', async () => {
    const customer = await h.stripe.customers.create({ invoice_settings: { default_payment_method: 'pm_card_visa' } });
    const draft = await h.stripe.invoices.create({ customer: customer.id, auto_advance: true });
    expect(draft.automatically_finalizes_at).toBe(draft.created + 3600);
    await h.stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 990 });
    await h.control.advanceClock(3601);
    const inv = await h.stripe.invoices.retrieve(draft.id);
    expect(inv).toMatchObject({ status: 'paid', amount_paid: 990 });
  });

  it('charges a finalized charge_automatically invoice with auto_advance an hour later', async () => {
    const customer = await h.stripe.customers.create({
      invoice_settings: { default_payment_method: 'pm_card_chargeDeclined' },
    });
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    await h.stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 450 });
    const open = await h.stripe.invoices.finalizeInvoice(draft.id, { auto_advance: true });
    expect(open.next_payment_attempt).toBe((open.status_transitions.finalized_at ?? 0) + 3600);
    await h.control.advanceClock(1800);
    expect((await h.stripe.invoices.retrieve(draft.id)).attempt_count).toBe(0);
    await h.control.advanceClock(1801);
    const after = await h.stripe.invoices.retrieve(draft.id);
    expect(after).toMatchObject({ status: 'open', attempt_count: 1, next_payment_attempt: null });
    const failed = await h.stripe.events.list({ type: 'invoice.payment_failed' });
    expect(failed.data[0].request).toEqual({ id: null, idempotency_key: null });
  });

  it('emits invoice.overdue once a send_invoice invoice passes its due date', async () => {
    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({
      customer: customer.id,
      collection_method: 'send_invoice',
      days_until_due: 7,
    });
    await h.stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 500 });
    await h.stripe.invoices.finalizeInvoice(draft.id);
    const before = await h.control.clock();
    await h.control.advanceClock(8 * 86400);
    const after = await h.control.clock();
    expect(after.now - before.now).toBeGreaterThanOrEqual(8 * 86400);
    const events = await h.stripe.events.list({ type: 'invoice.overdue' });
    expect(events.data.map((e) => (e.data.object as Stripe.Invoice).id)).toEqual([draft.id]);
  });
});
