import { invoicePayKey, RateLimiter, StripeGatewayError } from '../../src/stripe';
import { ManualClock } from '../helpers/clock';
import {
  type GatewayHarness,
  type OpenInvoice,
  openInvoice,
  fastLimiter,
  paidPayments,
  SECRET_KEY,
  startGatewayHarness,
} from './stripe-harness';

let h: GatewayHarness;
// The local Stripe's clock (its rate limit's one-second window) moves only when a test moves it.
const clock = new ManualClock();

beforeAll(async () => {
  h = await startGatewayHarness({ clock });
});

afterEach(async () => {
  await h.control.clearFaults();
  await h.control.setRateLimit(null);
});

afterAll(async () => {
  await h.stop();
});

const payVisa = (gateway: GatewayHarness['gateway'], open: OpenInvoice) =>
  gateway.payInvoice({ ...open, attempt: 1, paymentMethodId: 'pm_card_visa' });

describe('StripeGateway under faults (emulator)', () => {
  it('survives a 500 on the pay path: the SDK retries with the same key and charges once', async () => {
    const open = await openInvoice(h.gateway);
    const path = `/v1/invoices/${open.stripeInvoiceId}/pay`;
    await h.control.injectFault({ kind: '500', path, method: 'POST', count: 1 });
    const before = h.requests.length;
    expect(await payVisa(h.gateway, open)).toMatchObject({ outcome: 'paid' });
    const attempts = h.requests.slice(before).filter((r) => r.path === path);
    expect(attempts.map((r) => r.idempotencyKey)).toEqual([
      invoicePayKey(open.invoiceId, 1),
      invoicePayKey(open.invoiceId, 1),
    ]);
    expect(await paidPayments(h.stripe, open.stripeInvoiceId)).toBe(1);
  });

  it('reports unknown after persistent 500s; the same attempt later settles it', async () => {
    const open = await openInvoice(h.gateway);
    const path = `/v1/invoices/${open.stripeInvoiceId}/pay`;
    await h.control.injectFault({ kind: '500', path, method: 'POST' });
    expect(await payVisa(h.gateway, open)).toMatchObject({ outcome: 'unknown' });
    await h.control.clearFaults();
    expect(await payVisa(h.gateway, open)).toMatchObject({ outcome: 'paid' });
    expect(await paidPayments(h.stripe, open.stripeInvoiceId)).toBe(1);
  });

  it('reports unknown when Stripe hangs past the timeout', async () => {
    const open = await openInvoice(h.gateway);
    const impatient = h.gatewayWith({ timeoutMs: 200, maxNetworkRetries: 1 });
    await h.control.injectFault({ kind: 'hang', path: `/v1/invoices/${open.stripeInvoiceId}/pay`, count: 2 });
    const result = await payVisa(impatient, open);
    expect(result).toMatchObject({ outcome: 'unknown', message: expect.stringMatching(/timeout/) });
    expect(await payVisa(h.gateway, open)).toMatchObject({ outcome: 'paid' });
  });

  it('maps a 429 to rate_limited once the SDK has used its retries (Stripe-Should-Retry: true)', async () => {
    await h.control.injectFault({ kind: '429', path: '/v1/customers', method: 'POST', count: 3, shouldRetry: true });
    const before = h.requests.length;
    const error = await h.gateway.createCustomer({ customerId: 'c-429', externalUserId: 'u' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StripeGatewayError);
    expect((error as StripeGatewayError).failure).toEqual({ kind: 'rate_limited' });
    expect(h.requests.length - before).toBe(3);
  });

  it("survives Stripe's lock contention on the invoice it pays: the SDK retries the lock_timeout, the limiter does not slow", async () => {
    const open = await openInvoice(h.gateway);
    const path = `/v1/invoices/${open.stripeInvoiceId}/pay`;
    // Another request or Stripe process holds the invoice for the next two writes (two concurrent payments, say).
    await h.control.holdLock(open.stripeInvoiceId, { refusals: 2 });
    const limiter = fastLimiter();
    const before = h.requests.length;
    expect(await payVisa(h.gatewayWith({}, limiter), open)).toMatchObject({ outcome: 'paid' });
    const attempts = h.requests.slice(before).filter((r) => r.path === path);
    expect(attempts.map((r) => r.idempotencyKey)).toEqual(Array(3).fill(invoicePayKey(open.invoiceId, 1)));
    expect(await paidPayments(h.stripe, open.stripeInvoiceId)).toBe(1);
    expect((await h.control.locks()).refused).toBe(2);
    // A lock timeout says nothing of the request rate: no back-off.
    expect(limiter.state.backOffs).toBe(0);
  });

  it('reports rate_limited (not processed, safe to repeat) when the lock outlasts the SDK retries', async () => {
    const open = await openInvoice(h.gateway);
    await h.control.holdLock(open.stripeInvoiceId);
    try {
      const error = await payVisa(h.gateway, open).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StripeGatewayError);
      expect((error as StripeGatewayError).failure).toEqual({ kind: 'rate_limited' });
    } finally {
      await h.control.releaseLock(open.stripeInvoiceId);
    }
    expect(await payVisa(h.gateway, open)).toMatchObject({ outcome: 'paid' });
  });

  it('does not retry a 429 that says Stripe-Should-Retry: false', async () => {
    await h.control.injectFault({ kind: '429', path: '/v1/customers', method: 'POST', count: 1, shouldRetry: false });
    const error = await h.gateway
      .createCustomer({ customerId: 'c-429b', externalUserId: 'u' })
      .catch((e: unknown) => e);
    expect((error as StripeGatewayError).failure.kind).toBe('rate_limited');
    // The fault was used up by the single attempt: a retry of our own now succeeds with the same key.
    await expect(h.gateway.createCustomer({ customerId: 'c-429b', externalUserId: 'u' })).resolves.toMatch(/^cus_/);
  });

  it('keeps a burst of 60 calls under the emulator rate limit', async () => {
    const customerId = await h.gateway.createCustomer({ customerId: 'c-burst', externalUserId: 'u' });
    await h.control.setRateLimit(50);
    const burst = () => Array.from({ length: 60 }, (_, i) => `inv-${i}`);
    // Unpaced, the burst lands in one instant of Stripe's clock: 10 over the limit (the emulator's 429 carries no
    // Stripe-Should-Retry, so no retry).
    const unpaced = h.gatewayWith({ maxNetworkRetries: 0 });
    const tripped = await Promise.allSettled(burst().map((id) => unpaced.findInvoiceByOurId(id, customerId)));
    const rejected = tripped.flatMap((r) => (r.status === 'rejected' ? [r.reason as StripeGatewayError] : []));
    expect(rejected).toHaveLength(10);
    expect(rejected.every((e) => e.failure.kind === 'rate_limited')).toBe(true);
    clock.advance(1_000); // the emulator's one-second window empties

    // Paced on the same clock, each call reaching Stripe at the time the limiter released it (time moves only while
    // no request is on the wire): 40/s, one every 25 ms, never over the limit, whatever the machine's speed. The
    // ceiling keeps it there although the local Stripe announces 50.
    const paced = h.gatewayWith(
      { maxNetworkRetries: 0 },
      new RateLimiter({ requestsPerSecond: 40, ceiling: 40, clock }),
    );
    const start = clock.now();
    const unanswered = h.inFlight(); // earlier tests' hung and reset requests, never answered
    const results = await clock.runUntilSettled(
      Promise.allSettled(burst().map((id) => paced.findInvoiceByOurId(id, customerId))),
      { ready: () => h.inFlight() === unanswered },
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(clock.now() - start).toBe(59 * 25);
  });

  it('never puts the secret key in errors', async () => {
    const liveKey = 'sk_live_do_not_leak_0123456789';
    const wrongKey = h.gatewayWith({ secretKey: liveKey, maxNetworkRetries: 0 });
    const auth = await wrongKey.createCustomer({ customerId: 'c-auth', externalUserId: 'u' }).catch((e: unknown) => e);
    expect((auth as StripeGatewayError).failure).toEqual({ kind: 'authentication' });

    const open = await openInvoice(h.gateway);
    await h.control.injectFault({ kind: '500', path: `/v1/invoices/${open.stripeInvoiceId}/pay` });
    const unknown = await h.gatewayWith({ maxNetworkRetries: 0 }).payInvoice({
      ...open,
      attempt: 1,
      paymentMethodId: 'pm_card_visa',
    });
    const notFound = await h.gateway.retrieveInvoice('in_missing').catch((e: unknown) => e);
    for (const value of [auth, unknown, notFound]) {
      const text = `${String(value)} ${JSON.stringify(value)} ${(value as Error).stack ?? ''}`;
      for (const key of [liveKey, SECRET_KEY]) {
        expect(text).not.toContain(key);
        expect(text).not.toContain(key.slice(-8));
      }
    }
  });
});
