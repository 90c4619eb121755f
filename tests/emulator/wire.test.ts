import type Stripe from 'stripe';
import { parseForm } from '../../emulator/form';
import { openInvoice, rejection, stripeClient, useHarness } from './helpers';

const h = useHarness();

describe('form encoding', () => {
  it('parses Stripe bracket syntax: nesting, indexed and [] arrays, metadata', () => {
    const body =
      'customer=cus_1&metadata[userId]=u%201&metadata[0]=zero&expand[0]=customer&expand[1]=payments&tags[]=a&tags[]=b&invoice_settings[default_payment_method]=pm_card_visa&a+b=c%2Bd';
    expect(parseForm(body)).toEqual({
      customer: 'cus_1',
      metadata: { userId: 'u 1', 0: 'zero' },
      expand: ['customer', 'payments'],
      tags: ['a', 'b'],
      invoice_settings: { default_payment_method: 'pm_card_visa' },
      'a b': 'c+d',
    });
  });
});

describe('form safety', () => {
  it('ignores keys that would reach Object.prototype', () => {
    const parsed = parseForm('__proto__[polluted]=yes&metadata[constructor]=x&ok=1');
    expect(parsed).toEqual({ ok: '1' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('authentication', () => {
  it.each([
    ['no key', undefined],
    ['a live key', 'sk_live_abcdefghijklmnop'],
    ['a malformed key', 'nope'],
  ])('answers 401 for %s', async (_label, key) => {
    const res = await fetch(`${h.emulator.apiBase}/customers`, {
      headers: key ? { Authorization: `Bearer ${key}` } : {},
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).not.toContain('abcdefghijklmnop');
    expect(res.headers.get('request-id')).toMatch(/^req_/);
  });

  it('surfaces as StripeAuthenticationError in the SDK', async () => {
    const bad = stripeClient(h.emulator, {}, 'sk_live_0000000000000000');
    const err = await rejection(bad.customers.list());
    expect(err.type).toBe('StripeAuthenticationError');
    expect(err.statusCode).toBe(401);
  });
});

describe('HTTP surface', () => {
  it('sets Request-Id and Stripe-Version, and 404s unknown URLs with a Stripe error body', async () => {
    const ok = await h.stripe.customers.create({});
    expect(ok.lastResponse.requestId).toMatch(/^req_/);
    expect(ok.lastResponse.headers['stripe-version']).toBe('2026-10-28.endive');
    const res = await fetch(`${h.emulator.apiBase}/charges_unknown`, {
      headers: { Authorization: 'Bearer sk_test_x' },
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error).toMatchObject({ type: 'invalid_request_error' });
    expect(body.error.message).toContain('Unrecognized request URL (GET: /v1/charges_unknown)');
  });

  it("answers errors with Stripe's body: type, code, message, param, doc_url, request_log_url", async () => {
    const res = await fetch(`${h.emulator.apiBase}/invoices/in_missing`, {
      headers: { Authorization: 'Bearer sk_test_x' },
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: Record<string, string> };
    expect(body.error).toEqual({
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: "No such invoice: 'in_missing'",
      param: 'id',
      doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
      request_log_url: `https://dashboard.stripe.com/test/logs/${res.headers.get('request-id')}`,
    });
  });

  it('rejects a property that cannot be expanded', async () => {
    const c = await h.stripe.customers.create({});
    const err = await rejection(h.stripe.customers.retrieve(c.id, { expand: ['nonsense'] }));
    expect(err.statusCode).toBe(400);
    expect(err.param).toBe('expand');
  });

  it('expands list items with data.*', async () => {
    const inv = await openInvoice(h.stripe, 100);
    const list = await h.stripe.invoices.list({ customer: inv.customer as string, expand: ['data.customer'] });
    expect((list.data[0].customer as Stripe.Customer).object).toBe('customer');
  });
});

describe('idempotency', () => {
  it('replays the first response with Idempotent-Replayed: true', async () => {
    const first = await h.stripe.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'idem-create-1' });
    const second = await h.stripe.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'idem-create-1' });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    const all = await h.stripe.customers.list({ email: 'idem@example.com' });
    expect(all.data).toHaveLength(1);
  });

  it('replays errors too (a decline is not retried by replay)', async () => {
    const inv = await openInvoice(h.stripe, 1200);
    const key = `pay-${inv.id}-1`;
    const first = await rejection(
      h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: key }),
    );
    const second = await rejection(
      h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: key }),
    );
    expect(second.decline_code).toBe('generic_decline');
    expect(second.headers?.['idempotent-replayed']).toBe('true');
    expect(first.headers?.['idempotent-replayed']).toBeUndefined();
    const after = await h.stripe.invoices.retrieve(inv.id);
    expect(after.attempt_count).toBe(1);
  });

  it('answers 400 idempotency_error for the same key with other parameters', async () => {
    await h.stripe.customers.create({ email: 'one@example.com' }, { idempotencyKey: 'idem-mismatch' });
    const err = await rejection(
      h.stripe.customers.create({ email: 'two@example.com' }, { idempotencyKey: 'idem-mismatch' }),
    );
    expect(err.type).toBe('StripeIdempotencyError');
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain("Try using a key other than 'idem-mismatch'");
  });

  it('answers 409 while a request with the same key is in progress', async () => {
    const hold = await h.control.holdRequests({ path: '/v1/customers', method: 'POST', count: 1 });
    const slow = h.stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: 'idem-concurrent' });
    await h.control.waitForHeld(hold.id); // the first request is in progress
    const err = await rejection(
      h.stripe.customers.create({ email: 'slow@example.com' }, { idempotencyKey: 'idem-concurrent' }),
    );
    expect(err.statusCode).toBe(409);
    expect(err.code).toBe('idempotency_key_in_use');
    await h.control.release(hold.id);
    expect((await slow).email).toBe('slow@example.com');
  });

  it('does not store validation errors: the key can be used again once the request is fixed', async () => {
    const bad = await rejection(h.stripe.invoices.create({}, { idempotencyKey: 'idem-invalid' }));
    expect(bad.code).toBe('parameter_missing');
    const c = await h.stripe.customers.create({});
    const good = await h.stripe.invoices.create({ customer: c.id }, { idempotencyKey: 'idem-invalid' });
    expect(good.status).toBe('draft');
  });

  it('forgets keys after 24 hours of (test clock) time', async () => {
    const first = await h.stripe.customers.create({ email: 'ttl@example.com' }, { idempotencyKey: 'idem-ttl' });
    await h.control.advanceClock(23 * 3600);
    const replay = await h.stripe.customers.create({ email: 'ttl@example.com' }, { idempotencyKey: 'idem-ttl' });
    expect(replay.id).toBe(first.id);
    await h.control.advanceClock(3600 + 1);
    const fresh = await h.stripe.customers.create({ email: 'ttl@example.com' }, { idempotencyKey: 'idem-ttl' });
    expect(fresh.id).not.toBe(first.id);
  });
});
