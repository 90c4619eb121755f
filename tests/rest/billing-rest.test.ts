import { Role } from '../../src/entities/enums';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { operator } from '../helpers/fixtures';
import type { RestResponse, RestServer } from './rest-harness';
import { documentedSchema, schemaProblems, startRestServer } from './rest-harness';

type Op = Awaited<ReturnType<typeof operator>>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MISSING = '00000000-0000-4000-8000-000000000000';

/** Every failure has the guide's error shape and says nothing about our internals. */
function expectError(res: RestResponse, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.body).toMatchObject({ success: false, error: { message: expect.any(String) } });
  expect(res.text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+|sk_test_|whsec_/);
}

describe('the payment guide REST API', () => {
  let s: RestServer;
  let op: Op;

  /** 12,750,000 input tokens at $0.000002 = $25.50, the guide's example amount, in `month`. */
  const usage = (userId: string, month = '2024-01', tokens = '12750000') =>
    op.record([{ userId, metric: 'llm_input_tokens', quantity: tokens, occurredAt: `${month}-15T10:00:00Z` }]);
  const token = (userId: string, role = Role.USER) => s.t.token(userId, role);
  const create = async (userId: string, month = '2024-01') =>
    s.call('POST', `/api/v1/billing/invoice/${month}/create?user_id=${userId}`, { token: await token(userId) });
  const createOpen = async (userId: string): Promise<string> => {
    await usage(userId);
    const res = await create(userId);
    expect(res.status).toBe(200);
    return res.body.invoice_id as string;
  };
  const pay = async (userId: string, invoiceId: string, paymentMethodId: string) =>
    s.call('POST', `/api/v1/billing/invoice/${invoiceId}/pay`, {
      token: await token(userId),
      json: { payment_method_id: paymentMethodId, user_id: userId },
    });

  beforeAll(async () => {
    s = await startRestServer();
    await seedDefaultCatalogue(s.t.database.db.orm.em.fork());
    op = await operator(s.t);
  });
  afterAll(() => s.close());

  it("runs the guide's example: create the 2024-01 invoice, pay it with pm_card_visa, read its status", async () => {
    await usage('guide-user');
    const auth = await token('guide-user');

    const created = await s.call('POST', '/api/v1/billing/invoice/2024-01/create?user_id=guide-user', { token: auth });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      success: true,
      invoice_id: expect.stringMatching(UUID),
      invoice_number: expect.stringMatching(/^AH-2024-01-\d{6}-\d{8}$/),
      amount: 25.5,
      currency: 'usd',
      payment_url: expect.stringMatching(/^https?:\/\//),
      // AUTO_SEND_INVOICES is on: Stripe e-mailed it, which the guide calls "sent".
      status: 'sent',
      is_paid: false,
    });
    // The amount is written with the currency's two decimals, straight from the integer cents.
    expect(created.text).toContain('"amount":25.50');
    expect(new Date(created.body.due_date).toISOString()).toBe(created.body.due_date);
    expect(
      schemaProblems(documentedSchema('/api/v1/billing/invoice/{month}/create', 'post', 200), created.body),
    ).toEqual([]);
    const invoiceId = created.body.invoice_id as string;

    // Creating again returns the same invoice (the service's idempotency), never a second one.
    const again = await s.call('POST', '/api/v1/billing/invoice/2024-01/create?user_id=guide-user', { token: auth });
    expect(again.body.invoice_id).toBe(invoiceId);

    const paid = await s.call('POST', `/api/v1/billing/invoice/${invoiceId}/pay`, {
      token: auth,
      json: { payment_method_id: 'pm_card_visa', user_id: 'guide-user' },
    });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ success: true, invoice_id: invoiceId, status: 'paid', is_paid: true });
    expect(paid.text).toContain('"amount_paid":25.50');
    expect(
      schemaProblems(documentedSchema('/api/v1/billing/invoice/{invoice_id}/pay', 'post', 200), paid.body),
    ).toEqual([]);

    const read = await s.call('GET', `/api/v1/billing/invoice/${invoiceId}?user_id=guide-user`, { token: auth });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      success: true,
      invoice_id: invoiceId,
      status: 'paid',
      is_paid: true,
      amount: 25.5,
      lines: [
        { kind: 'usage', metric: 'llm_input_tokens', quantity: '12750000', unit_amount: '0.000002', amount: 25.5 },
      ],
    });
    expect(schemaProblems(documentedSchema('/api/v1/billing/invoice/{invoice_id}', 'get', 200), read.body)).toEqual([]);

    const listed = await s.call('GET', '/api/v1/billing/invoices?user_id=guide-user&limit=50', { token: auth });
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ success: true, next_cursor: null, total_count: 1 });
    expect(listed.body.invoices.map((i: { invoice_id: string }) => i.invoice_id)).toEqual([invoiceId]);
    expect(schemaProblems(documentedSchema('/api/v1/billing/invoices', 'get', 200), listed.body)).toEqual([]);
  });

  it('pages through invoices with limit and next_cursor', async () => {
    await usage('pager', '2024-01');
    await usage('pager', '2024-02');
    expect((await create('pager', '2024-01')).status).toBe(200);
    expect((await create('pager', '2024-02')).status).toBe(200);
    const auth = await token('pager');
    const first = await s.call('GET', '/api/v1/billing/invoices?limit=1', { token: auth });
    expect(first.body).toMatchObject({ total_count: 2, next_cursor: expect.any(String) });
    const second = await s.call('GET', `/api/v1/billing/invoices?limit=1&cursor=${first.body.next_cursor}`, {
      token: auth,
    });
    expect(second.body.next_cursor).toBeNull();
    expect([...first.body.invoices, ...second.body.invoices].map((i: { month: string }) => i.month)).toEqual([
      '2024-02',
      '2024-01',
    ]);
  });

  describe('identity', () => {
    let invoiceId: string;
    beforeAll(async () => {
      invoiceId = await createOpen('id-alice');
    });

    const everyRoute = (id: string, userId: string) =>
      [
        ['POST', `/api/v1/billing/invoice/2024-01/create?user_id=${userId}`, undefined],
        ['GET', `/api/v1/billing/invoices?user_id=${userId}`, undefined],
        ['GET', `/api/v1/billing/invoice/${id}?user_id=${userId}`, undefined],
        ['POST', `/api/v1/billing/invoice/${id}/pay`, { payment_method_id: 'pm_card_visa', user_id: userId }],
        ['POST', `/api/v1/billing/invoice/${id}/cancel?user_id=${userId}`, undefined],
      ] as const;

    it('answers 401 without a Bearer token, or with a bad one', async () => {
      const forged = await s.t.token('id-alice', Role.ADMIN, { secret: 'another-secret-0123456789abcdef0123456789' });
      for (const [method, path, json] of everyRoute(invoiceId, 'id-alice')) {
        const attempts: Array<Record<string, string>> = [
          {},
          { authorization: 'Basic abc' },
          { authorization: `Bearer ${forged}` },
        ];
        for (const headers of attempts) {
          const res = await s.call(method, path, { json, headers });
          expectError(res, 401, 'unauthenticated');
          expect(res.headers.get('www-authenticate')).toBe('Bearer');
        }
      }
    });

    it('answers 403 when user_id names someone else, whether or not the invoice exists', async () => {
      const bob = await token('id-bob');
      for (const id of [invoiceId, MISSING]) {
        for (const [method, path, json] of everyRoute(id, 'id-alice')) {
          const res = await s.call(method, path, { token: bob, json });
          expectError(res, 403, 'forbidden');
          expect(res.text).not.toContain(id);
        }
      }
    });

    it("answers 404 for another user's invoice named with your own user_id, exactly like a missing one", async () => {
      const bob = await token('id-bob');
      for (const id of [invoiceId, MISSING, 'not-a-uuid']) {
        for (const [method, path, json] of everyRoute(id, 'id-bob').slice(2)) {
          expectError(await s.call(method, path, { token: bob, json }), 404, 'not_found');
        }
      }
      // Nothing happened to Alice's invoice.
      const alice = await s.call('GET', `/api/v1/billing/invoice/${invoiceId}`, { token: await token('id-alice') });
      expect(alice.body.status).toBe('sent');
    });

    it('reads user_id as a string or a whole JSON number, in the query and in JSON bodies, on every route', async () => {
      // The guide's pay example sends "user_id": 123; 123 and "123" are the same user everywhere.
      await usage('4711');
      const own = await token('4711');
      const created = await create('4711');
      expect(created.body).toMatchObject({ success: true, user_id: '4711' });
      const invoiceId = created.body.invoice_id as string;
      const read = await s.call('GET', `/api/v1/billing/invoice/${invoiceId}?user_id=4711`, { token: own });
      expect(read.body).toMatchObject({ success: true, invoice_id: invoiceId, user_id: '4711' });
      const listed = await s.call('GET', '/api/v1/billing/invoices?user_id=4711', { token: own });
      expect(listed.body.invoices.map((i: { invoice_id: string }) => i.invoice_id)).toEqual([invoiceId]);

      // A number names a user like its digits do: someone else's number is 403, for an admin a wrong owner is 404.
      const pay = `/api/v1/billing/invoice/${invoiceId}/pay`;
      const cancel = `/api/v1/billing/invoice/${invoiceId}/cancel`;
      expectError(
        await s.call('POST', pay, { token: own, json: { payment_method_id: 'pm_card_visa', user_id: 4712 } }),
        403,
        'forbidden',
      );
      const admin = await token('root', Role.ADMIN);
      expectError(await s.call('POST', cancel, { token: admin, json: { user_id: 4712 } }), 404, 'not_found');

      // Anything else is refused, never guessed: fractions, negatives, numbers a float may have rounded, booleans.
      for (const userId of [4711.5, -4711, 2 ** 53, 1e21, true, [4711], { id: 4711 }]) {
        for (const [path, json] of [
          [pay, { payment_method_id: 'pm_card_visa', user_id: userId }],
          [cancel, { user_id: userId }],
        ] as const) {
          const refused = await s.call('POST', path, { token: own, json });
          expectError(refused, 400, 'invalid_request');
          expect(refused.body.error.message).toBe(
            'user_id must be a single string or a whole JSON number from 0 to 9007199254740991',
          );
        }
      }
      expect((await s.call('GET', `/api/v1/billing/invoice/${invoiceId}`, { token: own })).body.status).toBe('sent');

      const paid = await s.call('POST', pay, {
        token: own,
        json: { payment_method_id: 'pm_card_visa', user_id: 4711 },
      });
      expect(paid.status).toBe(200);
      expect(paid.body).toMatchObject({ success: true, status: 'paid', user_id: '4711', amount_paid: 25.5 });

      // Cancel reads the body's user_id too (the guide sends none; the query still works, as above for 404).
      const second = await createOpen('4713');
      const voided = await s.call('POST', `/api/v1/billing/invoice/${second}/cancel`, {
        token: await token('4713'),
        json: { user_id: 4713, reason: 'duplicate' },
      });
      expect(voided.body).toMatchObject({ success: true, status: 'void', user_id: '4713', void_reason: 'duplicate' });
    });

    it('lets an admin act for a user, and answers 404 when user_id is not the owner', async () => {
      const admin = await token('root', Role.ADMIN);
      const read = await s.call('GET', `/api/v1/billing/invoice/${invoiceId}?user_id=id-alice`, { token: admin });
      expect(read.body).toMatchObject({ success: true, user_id: 'id-alice' });
      const wrongOwner = await s.call('POST', `/api/v1/billing/invoice/${invoiceId}/cancel?user_id=id-bob`, {
        token: admin,
      });
      expectError(wrongOwner, 404, 'not_found');
      const list = await s.call('GET', '/api/v1/billing/invoices?user_id=id-alice', { token: admin });
      expect(list.body.invoices.map((i: { invoice_id: string }) => i.invoice_id)).toEqual([invoiceId]);
    });
  });

  describe('create', () => {
    it.each(['January', '2024-13', '2024-1', '1999-12'])('answers 400 invalid_month for %s', async (month) => {
      const res = await s.call('POST', `/api/v1/billing/invoice/${month}/create`, { token: await token('c-bad') });
      expectError(res, 400, 'invalid_month');
      expect(res.body.error.param).toBe('month');
    });

    it('answers 422 without usage and for a month that has not ended', async () => {
      expectError(await create('c-idle'), 422, 'no_billable_usage');
      const now = new Date();
      const month = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
      expectError(await create('c-idle', month), 422, 'period_not_ended');
    });

    it('answers 400 for a repeated user_id', async () => {
      const res = await s.call('POST', '/api/v1/billing/invoice/2024-01/create?user_id=a&user_id=b', {
        token: await token('a'),
      });
      expectError(res, 400, 'invalid_request');
    });
  });

  it('answers unknown paths and methods, and undecodable paths, in the API own error shape', async () => {
    const auth = { authorization: `Bearer ${await token('shape')}` };
    for (const [method, path] of [
      ['GET', '/api/v1/billing/invoice/2025-04/create'],
      ['POST', '/api/v1/billing/invoices'],
      ['DELETE', '/api/v1/billing/invoice/x'],
    ]) {
      const res = await fetch(`${s.t.url}${path}`, { method, headers: auth });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ success: false, error: { code: 'not_found', message: expect.any(String) } });
    }
    const bad = await fetch(`${s.t.url}/api/v1/billing/invoice/%E0%A4%A`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ success: false, error: { code: 'invalid_request' } });
  });

  describe('pay', () => {
    it('answers 402 card_declined with the decline code, then a good card pays', async () => {
      const invoiceId = await createOpen('p-decline');
      const declined = await pay('p-decline', invoiceId, 'pm_card_chargeDeclinedInsufficientFunds');
      expectError(declined, 402, 'card_declined');
      expect(declined.body.error).toMatchObject({ decline_code: 'insufficient_funds', status: 'payment_failed' });
      expect(
        schemaProblems(documentedSchema('/api/v1/billing/invoice/{invoice_id}/pay', 'post', 402), declined.body),
      ).toEqual([]);
      expect((await pay('p-decline', invoiceId, 'pm_card_visa')).body).toMatchObject({ status: 'paid' });
    });

    it("answers every decline as 402 card_declined, Stripe's own reason in decline_code (an expired card)", async () => {
      const invoiceId = await createOpen('p-expired');
      const declined = await pay('p-expired', invoiceId, 'pm_card_chargeDeclinedExpiredCard');
      expectError(declined, 402, 'card_declined');
      expect(declined.body.error).toMatchObject({ decline_code: 'expired_card', status: 'payment_failed' });
    });

    it('answers 402 requires_action with a client secret and the payment page for 3-D Secure', async () => {
      const invoiceId = await createOpen('p-3ds');
      const paymentUrl = (await create('p-3ds')).body.payment_url as string;
      const res = await pay('p-3ds', invoiceId, 'pm_card_authenticationRequired');
      expectError(res, 402, 'requires_action');
      expect(res.body.error).toMatchObject({
        client_secret: expect.stringMatching(/_secret_/),
        payment_url: paymentUrl,
        status: 'requires_action',
      });
    });

    it('answers 409 for a paid invoice, to paying and to cancelling', async () => {
      const invoiceId = await createOpen('p-paid');
      expect((await pay('p-paid', invoiceId, 'pm_card_visa')).status).toBe(200);
      const again = await pay('p-paid', invoiceId, 'pm_card_visa');
      expectError(again, 409, 'invalid_state');
      expect(again.body.error.status).toBe('paid');
      const cancel = await s.call('POST', `/api/v1/billing/invoice/${invoiceId}/cancel?user_id=p-paid`, {
        token: await token('p-paid'),
      });
      expectError(cancel, 409, 'invalid_state');
      expect(cancel.body.error.message).toBe('A paid invoice cannot be cancelled');
    });

    it('answers 422 for a card number, an id that is not pm_… or one Stripe does not know, without echoing it', async () => {
      const invoiceId = await createOpen('p-pan');
      for (const pm of ['4242424242424242', 'card_visa', 'pm_bad id']) {
        const res = await pay('p-pan', invoiceId, pm);
        expectError(res, 422, 'invalid_payment_method');
        expect(res.body.error.param).toBe('payment_method_id');
        expect(res.text).not.toContain('4242424242424242');
      }
      // Well-formed but unknown to Stripe: refused by Stripe, nothing charged, and a real card still pays.
      const unknown = await pay('p-pan', invoiceId, 'pm_doesnotexist');
      expectError(unknown, 422, 'invalid_payment_method');
      expect((await pay('p-pan', invoiceId, 'pm_card_visa')).body).toMatchObject({ status: 'paid' });
    });

    it('answers 400 for malformed JSON and for a body without payment_method_id', async () => {
      const auth = await token('p-body');
      const path = `/api/v1/billing/invoice/${MISSING}/pay`;
      const malformed = await s.call('POST', path, {
        token: auth,
        body: '{"payment_method_id": ',
        headers: { 'content-type': 'application/json' },
      });
      expectError(malformed, 400, 'invalid_json');
      expect(malformed.body.error.message).toBe('The request body is not valid JSON');
      for (const json of [{}, { payment_method_id: 42 }, ['pm_card_visa']]) {
        expectError(await s.call('POST', path, { token: auth, json }), 400, 'invalid_request');
      }
      const noType = await s.call('POST', path, { token: auth, body: 'payment_method_id=pm_card_visa' });
      expectError(noType, 400, 'invalid_request');
    });

    it('answers 503 payment_pending with Retry-After, the invoice processing, when Stripe does not answer', async () => {
      const invoiceId = await createOpen('p-down');
      // More failures than the SDK's own retries (2), so the outcome stays unknown.
      await s.t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/pay', count: 3 });
      try {
        const res = await pay('p-down', invoiceId, 'pm_card_visa');
        expectError(res, 503, 'payment_pending');
        expect(res.body.error).toMatchObject({ invoice_id: invoiceId, status: 'processing' });
        expect(res.headers.get('retry-after')).toBe('5');
      } finally {
        await s.t.control.clearFaults();
      }
      const read = await s.call('GET', `/api/v1/billing/invoice/${invoiceId}`, { token: await token('p-down') });
      expect(read.body.status).toBe('processing');
      // Retrying as told settles it; Stripe charges an invoice once whatever happened to the first request.
      expect((await pay('p-down', invoiceId, 'pm_card_visa')).body).toMatchObject({
        status: 'paid',
        amount_paid: 25.5,
      });
    });
  });

  describe('cancel', () => {
    it('voids an unpaid invoice with the reason from the body or the query', async () => {
      const invoiceId = await createOpen('x-cancel');
      const res = await s.call('POST', `/api/v1/billing/invoice/${invoiceId}/cancel?user_id=x-cancel`, {
        token: await token('x-cancel'),
        json: { reason: 'customer request' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ success: true, status: 'void', void_reason: 'customer request' });
      expect(
        schemaProblems(documentedSchema('/api/v1/billing/invoice/{invoice_id}/cancel', 'post', 200), res.body),
      ).toEqual([]);

      const second = await createOpen('x-cancel');
      const byQuery = await s.call('POST', `/api/v1/billing/invoice/${second}/cancel?reason=duplicate`, {
        token: await token('x-cancel'),
      });
      expect(byQuery.body).toMatchObject({ status: 'void', void_reason: 'duplicate' });
    });

    it('answers 422 for an over-long reason', async () => {
      const res = await s.call('POST', `/api/v1/billing/invoice/${MISSING}/cancel`, {
        token: await token('x-long'),
        json: { reason: 'x'.repeat(501) },
      });
      expectError(res, 422, 'validation_error');
      expect(res.body.error.param).toBe('reason');
    });
  });

  describe('list', () => {
    it.each([
      ['limit=abc', 'invalid_limit'],
      ['limit=0', 'invalid_limit'],
      ['limit=101', 'invalid_limit'],
      ['cursor=garbage', 'invalid_cursor'],
    ])('answers 400 for %s', async (query, code) => {
      expectError(await s.call('GET', `/api/v1/billing/invoices?${query}`, { token: await token('l-bad') }), 400, code);
    });
  });
});
