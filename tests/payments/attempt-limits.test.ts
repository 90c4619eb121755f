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
