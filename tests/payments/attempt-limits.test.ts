import { SignJWT } from 'jose';
import { Role } from '../../src/entities/enums';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import {
  CreateInvoiceDocument,
  LiftPaymentAttemptLimitDocument,
  PayInvoiceDocument,
  PaymentAttemptBlocksDocument,
} from '../generated/graphql';
import { ManualClock } from '../helpers/clock';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { TEST_JWT_SECRET, startTestServer } from '../helpers/server';
import { Wakeups, waitForEvent } from '../helpers/wait';
import { documentedSchema, schemaProblems } from '../rest/rest-harness';

const DECLINED = 'pm_card_chargeDeclinedInsufficientFunds';
const HOUR = 3600 * 1000;

describe('payment attempt limits: card testing meets a wall, which time or an admin takes down', () => {
  // The server's clock: the limits' windows are measured on it, so the test moves an hour instead of waiting one.
  const clock = new ManualClock();
  let t: TestServer;

  /** A token issued at the server's current time (the clock moves hours here; real-time tokens would expire). */
  const tokenAt = (sub: string, role = Role.USER): Promise<string> => {
    const iat = Math.floor(clock.now() / 1000);
    return new SignJWT({ role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  };

  const pay = async (userId: string, invoiceId: string, paymentMethodId = DECLINED) => {
    const res = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId }, { token: await tokenAt(userId) });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.payInvoice;
  };

  const payRest = async (userId: string, invoiceId: string, paymentMethodId = DECLINED) => {
    const res = await fetch(`${t.url}/api/v1/billing/invoice/${invoiceId}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenAt(userId)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ payment_method_id: paymentMethodId }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    const path = '/api/v1/billing/invoice/{invoice_id}/pay';
    expect(schemaProblems(documentedSchema(path, 'post', res.status), body)).toEqual([]);
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
  };

  const blocks = async (userId: string) => {
    const res = await t.gql(PaymentAttemptBlocksDocument, { userId }, { token: await tokenAt('admin-7', Role.ADMIN) });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.paymentAttemptBlocks;
  };

  /** An OPEN invoice for January 2024 usage of `userId`. */
  const openInvoice = async (userId: string): Promise<string> => {
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await tokenAt(userId) });
    const invoice = res.body.data!.createInvoice;
    if (invoice.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(invoice)}`);
    }
    return invoice.id;
  };

  /** Five declines on one invoice, the default limit per hour. */
  const declineFiveTimes = async (userId: string, invoiceId: string): Promise<void> => {
    for (let i = 0; i < 5; i += 1) {
      expect(await pay(userId, invoiceId)).toMatchObject({ __typename: 'PaymentDeclined', code: 'PAYMENT_DECLINED' });
    }
  };

  beforeAll(async () => {
    t = await startTestServer({}, { clock });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  it('refuses the 6th try on an invoice within the hour, even with a good card, and allows it once the hour has passed', async () => {
    const invoiceId = await openInvoice('u-carder');
    const firstDeclineAt = clock.now();
    await declineFiveTimes('u-carder', invoiceId);

    const refused = await pay('u-carder', invoiceId, 'pm_card_visa');
    expect(refused).toEqual({
      __typename: 'PaymentAttemptsExceeded',
      code: 'PAYMENT_ATTEMPTS_EXCEEDED',
      message: expect.stringContaining('Too many failed payment attempts'),
      scope: 'INVOICE',
      failedAttempts: 5,
      limit: 5,
      windowSeconds: 3600,
      resetsAt: new Date(firstDeclineAt + HOUR).toISOString(),
    });
    // Nothing was sent to Stripe: the good card did not pay it.
    const stripeInvoices = (await t.stripe.invoices.list({ limit: 100 })).data.filter(
      (i) => i.metadata?.agenthub_invoice_id === invoiceId,
    );
    expect(stripeInvoices.map((i) => i.status)).toEqual(['open']);

    // REST: the same refusal as 429 in the one error shape, with when it resets.
    const rest = await payRest('u-carder', invoiceId, 'pm_card_visa');
    expect(rest.status).toBe(429);
    expect(rest.retryAfter).toBe('3600');
    expect(rest.body).toEqual({
      success: false,
      error: {
        code: 'payment_attempts_exceeded',
        message: expect.any(String),
        scope: 'invoice',
        failed_attempts: 5,
        limit: 5,
        window_seconds: 3600,
        resets_at: new Date(firstDeclineAt + HOUR).toISOString(),
        invoice_id: invoiceId,
      },
    });

    // Admins see it.
    expect(await blocks('u-carder')).toEqual([
      expect.objectContaining({ scope: 'INVOICE', userId: 'u-carder', invoiceId, failedAttempts: 5 }),
    ]);

    // One second short of the hour it still holds; past it, paying is allowed again.
    clock.set(firstDeclineAt + HOUR - 1000);
    expect((await pay('u-carder', invoiceId)).__typename).toBe('PaymentAttemptsExceeded');
    clock.set(firstDeclineAt + HOUR + 1000);
    expect(await blocks('u-carder')).toEqual([]);
    expect((await pay('u-carder', invoiceId, 'pm_card_visa')).__typename).toBe('Invoice');
  });

  it('an admin lifts an invoice limit, recorded with who and why; a user cannot', async () => {
    const invoiceId = await openInvoice('u-unlucky');
    await declineFiveTimes('u-unlucky', invoiceId);
    expect((await pay('u-unlucky', invoiceId)).__typename).toBe('PaymentAttemptsExceeded');

    const byUser = await t.gql(LiftPaymentAttemptLimitDocument, { invoiceId }, { token: await tokenAt('u-unlucky') });
    expect(byUser.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Found by the fuzz suite: an id that is not a UUID reached PostgreSQL, which refused it (INTERNAL_SERVER_ERROR).
    for (const notAnInvoice of ['not-a-uuid', '123', `${invoiceId}x`]) {
      const missing = await t.gql(
        LiftPaymentAttemptLimitDocument,
        { invoiceId: notAnInvoice },
        { token: await tokenAt('admin-7', Role.ADMIN) },
      );
      expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }

    clock.advance(1000);
    const lifted = await t.gql(
      LiftPaymentAttemptLimitDocument,
      { invoiceId, reason: 'customer called: new card' },
      { token: await tokenAt('admin-7', Role.ADMIN) },
    );
    expect(lifted.body.errors).toBeUndefined();
    expect(lifted.body.data!.liftPaymentAttemptLimit).toMatchObject({
      scope: 'INVOICE',
      userId: 'u-unlucky',
      invoiceId,
      liftedBy: 'admin-7',
      reason: 'customer called: new card',
      liftedAt: new Date(clock.now()).toISOString(),
    });
    expect(await blocks('u-unlucky')).toEqual([]);

    clock.advance(1000);
    // Failures after the lift count again from zero: four more declines, then the good card pays.
    for (let i = 0; i < 4; i += 1) {
      expect((await pay('u-unlucky', invoiceId)).__typename).toBe('PaymentDeclined');
    }
    expect((await pay('u-unlucky', invoiceId, 'pm_card_visa')).__typename).toBe('Invoice');
  });
});

describe('payment attempt limits over REST: admins list and lift them as over GraphQL', () => {
  const clock = new ManualClock();
  let t: TestServer;
  const tokenAt = (sub: string, role = Role.USER): Promise<string> => {
    const iat = Math.floor(clock.now() / 1000);
    return new SignJWT({ role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 600)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
  };
  beforeAll(async () => {
    t = await startTestServer({}, { clock });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  /** A REST call whose answer is checked against the route's documented schema for its status. */
  const rest = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    const template = path.split('?')[0];
    expect(schemaProblems(documentedSchema(template, method.toLowerCase(), res.status), json)).toEqual([]);
    return { status: res.status, body: json };
  };
  const BLOCKS = '/api/v1/billing/payment-attempt-blocks';
  const LIFT = '/api/v1/billing/payment-attempt-limits/lift';

  it('lists the blocks of a user, refuses non-admins, and lifts an invoice or a user with a reason', async () => {
    const userId = 'u-rest-carder';
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await tokenAt(userId) });
    const invoice = created.body.data!.createInvoice;
    const invoiceId = invoice.__typename === 'Invoice' ? invoice.id : 'none';
    const firstDeclineAt = clock.now();
    for (let i = 0; i < 5; i += 1) {
      const res = await t.gql(
        PayInvoiceDocument,
        { invoiceId, paymentMethodId: DECLINED },
        { token: await tokenAt(userId) },
      );
      expect(res.body.data!.payInvoice.__typename).toBe('PaymentDeclined');
    }
    const admin = await tokenAt('admin-9', Role.ADMIN);
    const user = await tokenAt(userId);

    expect((await rest('GET', `${BLOCKS}?user_id=${userId}`, user)).status).toBe(403);
    expect(await rest('GET', `${BLOCKS}?user_id=${userId}`, admin)).toEqual({
      status: 200,
      body: {
        success: true,
        blocks: [
          {
            scope: 'invoice',
            user_id: userId,
            invoice_id: invoiceId,
            failed_attempts: 5,
            limit: 5,
            window_seconds: 3600,
            resets_at: new Date(firstDeclineAt + HOUR).toISOString(),
          },
        ],
      },
    });
    // Everyone's, without user_id (this user is the only one blocked here).
    expect((await rest('GET', BLOCKS, admin)).body.blocks).toHaveLength(1);

    // Who may lift, and what a lift names: exactly one of an invoice or a user, which must exist.
    expect((await rest('POST', LIFT, user, { invoice_id: invoiceId })).status).toBe(403);
    for (const body of [{}, { invoice_id: invoiceId, user_id: userId }, { reason: 'x' }]) {
      const refused = await rest('POST', LIFT, admin, body);
      expect(refused).toMatchObject({
        status: 422,
        body: { error: { code: 'validation_error', param: 'invoice_id' } },
      });
    }
    expect((await rest('POST', LIFT, admin, { invoice_id: '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
    expect((await rest('POST', LIFT, admin, { invoice_id: 'not-a-uuid' })).status).toBe(404);
    expect((await rest('POST', LIFT, admin, { user_id: 'nobody-here' })).status).toBe(404);
    expect(await rest('POST', LIFT, admin, { invoice_id: invoiceId, reason: 'x'.repeat(501) })).toMatchObject({
      status: 422,
      body: { error: { code: 'validation_error', param: 'reason' } },
    });

    clock.advance(1000);
    expect(await rest('POST', LIFT, admin, { invoice_id: invoiceId, reason: 'customer called: new card' })).toEqual({
      status: 200,
      body: {
        success: true,
        lift: {
          id: expect.any(String),
          scope: 'invoice',
          user_id: userId,
          invoice_id: invoiceId,
          lifted_by: 'admin-9',
          reason: 'customer called: new card',
          lifted_at: new Date(clock.now()).toISOString(),
        },
      },
    });
    expect((await rest('GET', `${BLOCKS}?user_id=${userId}`, admin)).body.blocks).toEqual([]);
    // A user's lift, by user_id: it lifts the user's own limit and every one of their invoices'.
    expect(await rest('POST', LIFT, admin, { user_id: userId })).toMatchObject({
      status: 200,
      body: { lift: { scope: 'user', user_id: userId, invoice_id: null, reason: null } },
    });
    clock.advance(1000);
    const paid = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId: 'pm_card_visa' }, { token: user });
    expect(paid.body.data!.payInvoice.__typename).toBe('Invoice');
  });
});

describe('payment attempt limits per user', () => {
  const clock = new ManualClock();
  let t: TestServer;
  beforeAll(async () => {
    // Two failures per user per day, so the user limit is met before any invoice's.
    t = await startTestServer({ PAYMENT_DECLINE_LIMIT_PER_USER: '2' }, { clock });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  it('refuses paying any of the user’s invoices once the user limit is reached', async () => {
    const op = await operator(t);
    const token = await t.token('u-spree');
    await op.record([
      { userId: 'u-spree', metric: 'llm_input_tokens', quantity: '1000000', occurredAt: '2024-01-15T10:00:00Z' },
      { userId: 'u-spree', metric: 'llm_input_tokens', quantity: '1000000', occurredAt: '2024-02-15T10:00:00Z' },
    ]);
    const ids: string[] = [];
    for (const period of ['2024-01', '2024-02']) {
      const res = await t.gql(CreateInvoiceDocument, { period }, { token });
      const invoice = res.body.data!.createInvoice;
      ids.push(invoice.__typename === 'Invoice' ? invoice.id : 'none');
    }
    const pay = async (invoiceId: string, pm = DECLINED) =>
      (await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId: pm }, { token })).body.data!.payInvoice;
    expect((await pay(ids[0])).__typename).toBe('PaymentDeclined');
    expect((await pay(ids[0])).__typename).toBe('PaymentDeclined');
    // The other invoice has no failure of its own, but its owner has used the day's budget.
    expect(await pay(ids[1], 'pm_card_visa')).toMatchObject({
      __typename: 'PaymentAttemptsExceeded',
      scope: 'USER',
      failedAttempts: 2,
      limit: 2,
      windowSeconds: 86400,
    });
  });
});

describe('payment attempt limits per user, under concurrent tries on several invoices', () => {
  const LIMIT = 3;
  const INVOICES = 6;
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ PAYMENT_DECLINE_LIMIT_PER_USER: String(LIMIT) });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  /** Resolves once `count` of `calls` have settled; a guard turns "they never did" into a clear failure. */
  const settled = (calls: Array<Promise<unknown>>, count: number, what: string): Promise<void> => {
    let done = 0;
    const progress = new Wakeups();
    for (const call of calls) {
      void call.finally(() => {
        done += 1;
        progress.wake();
      });
    }
    return waitForEvent(
      () => `${what}: ${done} settled`,
      () => done >= count,
      progress.subscribe,
    );
  };

  it('lets exactly the limit reach Stripe when one user pays several invoices at once with a declined card', async () => {
    const userId = 'u-parallel';
    const op = await operator(t);
    const token = await t.token(userId);
    const months = Array.from({ length: INVOICES }, (_, i) => `2024-${String(i + 1).padStart(2, '0')}`);
    await op.record(
      months.map((month) => ({
        userId,
        metric: 'llm_input_tokens',
        quantity: '1000000',
        occurredAt: `${month}-15T10:00:00Z`,
      })),
    );
    const invoiceIds: string[] = [];
    for (const period of months) {
      const invoice = (await t.gql(CreateInvoiceDocument, { period }, { token })).body.data!.createInvoice;
      invoiceIds.push(invoice.__typename === 'Invoice' ? invoice.id : 'none');
    }

    // Every payment that reaches Stripe is held there until released: all the tries are in flight at once.
    const hold = await t.control.holdRequests({ path: '^/v1/invoices/[^/]+/pay', method: 'POST' });
    const pay = (invoiceId: string) =>
      fetch(`${t.url}/api/v1/billing/invoice/${invoiceId}/pay`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ payment_method_id: DECLINED }),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as { error?: { code: string } } }));
    const calls = invoiceIds.map(pay);

    // The limit's worth reach Stripe; the others are answered at once, without reaching it.
    await t.control.waitForHeld(hold.id, LIMIT);
    await settled(calls, INVOICES - LIMIT, `the ${INVOICES - LIMIT} tries over the user's limit to be refused`);
    await t.control.release(hold.id);
    const answers = await Promise.all(calls);
    expect((await t.control.waitForHeld(hold.id, 0)).hits).toBe(LIMIT);
    const codes = answers.map((answer) => `${answer.status} ${answer.body.error?.code}`).sort();
    expect(codes).toEqual([
      ...Array<string>(LIMIT).fill('402 card_declined'),
      ...Array<string>(INVOICES - LIMIT).fill('409 invalid_state'),
    ]);
    // Now the user's limit is reached: every invoice is refused as such, still without reaching Stripe.
    const after = await pay(invoiceIds[0]);
    expect(after.status).toBe(429);
    expect(after.body.error).toMatchObject({
      code: 'payment_attempts_exceeded',
      scope: 'user',
      failed_attempts: LIMIT,
    });
    expect((await t.control.waitForHeld(hold.id, 0)).hits).toBe(LIMIT);
    await t.control.removeFault(hold.id);
  });
});
