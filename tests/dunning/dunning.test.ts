import type Stripe from 'stripe';
import { Role } from '../../src/entities/enums';
import { openDatabase } from '../../src/entities/orm';
import type { Database } from '../../src/entities/orm';
import { createServer } from '../../src/server';
import type { BillingServer } from '../../src/server';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { CreateInvoiceDocument, PayInvoiceDocument } from '../generated/graphql';
import { ManualClock } from '../helpers/clock';
import { testServerUrl } from '../helpers/database';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';

const DAY = 24 * 60 * 60 * 1000;
const onPostgres = testServerUrl() ? it : it.skip;

const DUNNING = `query($id: ID!) { invoice(id: $id) { status dunning { step nextAttemptAt lastAttemptAt state lastOutcome } } }`;

/**
 * Dunning driven by time: the server's clock and the local Stripe's test clock move a day at a time, and each
 * instance's `dunning.tick()` runs what is due (as its own timer would). Stripe's `attempt_count` and `invoice.sent`
 * events count what really happened there.
 */
describe('dunning: reminders and retries of unpaid invoices on the configured days', () => {
  let t: TestServer;
  const clock = new ManualClock(new Date('2026-12-06T12:00:00Z'));
  let users = 0;

  beforeAll(async () => {
    t = await startTestServer(
      {
        DUNNING_RETRY_DAYS: '1,3,5',
        DUNNING_FINAL_ACTION: 'uncollectible',
        // No timer: the test's ticks are the instances' checks, so each returns what ran.
        DUNNING_INTERVAL_SECONDS: '0',
        DUNNING_LEASE_SECONDS: '300',
      },
      { clock },
    );
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  /** Both clocks move: ours (dunning's due times) and the local Stripe's (its invoices' and events' times). */
  const passDays = async (days: number): Promise<void> => {
    clock.advance(days * DAY);
    await t.control.advanceClock((days * DAY) / 1000);
  };
  const openInvoice = async (userId: string, period = '2024-01'): Promise<{ id: string; stripeId: string }> => {
    const op = await operator(t);
    await op.record([
      {
        userId,
        metric: 'llm_input_tokens',
        quantity: '1234567',
        occurredAt: `${period}-15T10:00:00Z`,
        idempotencyKey: `${userId}-${period}`,
      },
    ]);
    const res = await t.gql(CreateInvoiceDocument, { period }, { token: await t.token(userId) });
    const invoice = res.body.data!.createInvoice;
    if (invoice.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(invoice)}`);
    }
    const [row] = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ stripe_invoice_id: string }>>('select stripe_invoice_id from invoices where id = ?', [
        invoice.id,
      ]);
    return { id: invoice.id, stripeId: row.stripe_invoice_id };
  };
  const pay = async (userId: string, invoiceId: string, paymentMethodId: string): Promise<string> => {
    const res = await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId }, { token: await t.token(userId) });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.payInvoice.__typename;
  };
  const dunningOf = async (userId: string, id: string) => {
    const res = await t.gql<{ invoice: { status: string; dunning: Record<string, unknown> | null } }, { id: string }>(
      DUNNING,
      { id },
      { token: await t.token(userId) },
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.invoice;
  };
  const stripeAttempts = async (stripeId: string): Promise<number> =>
    (await t.stripe.invoices.retrieve(stripeId)).attempt_count;
  const reminders = async (stripeId: string): Promise<number> => {
    const events = await t.stripe.events.list({ type: 'invoice.sent', limit: 100 });
    return events.data.filter((e) => (e.data.object as Stripe.Invoice).id === stripeId).length;
  };
  const newUser = (): string => `dunning-${(users += 1)}`;

  it('failure → a reminder and a retry on days 1, 3 and 5 → uncollectible; each step once', async () => {
    const userId = newUser();
    const invoice = await openInvoice(userId);
    expect(await pay(userId, invoice.id, 'pm_card_chargeDeclined')).toBe('PaymentDeclined');
    const sentAtCreation = await reminders(invoice.stripeId);

    // The failure puts the invoice into dunning; nothing is due yet.
    expect((await t.server.dunning.tick()).steps).toEqual([]);
    const enrolled = await dunningOf(userId, invoice.id);
    expect(enrolled).toMatchObject({
      status: 'PAYMENT_FAILED',
      dunning: { step: 0, state: 'ACTIVE', lastAttemptAt: null },
    });
    expect(enrolled.dunning!.nextAttemptAt).toBe(new Date(clock.now() + DAY).toISOString());

    await passDays(1);
    const first = await t.server.dunning.tick();
    expect(first.steps.map((s) => [s.step, s.outcome, s.state])).toEqual([[1, 'declined: generic_decline', 'ACTIVE']]);
    // A second tick (another instance's timer) on the same day finds nothing.
    expect((await t.server.dunning.tick()).steps).toEqual([]);
    expect(await stripeAttempts(invoice.stripeId)).toBe(2);
    expect(await reminders(invoice.stripeId)).toBe(sentAtCreation + 1);
    expect((await dunningOf(userId, invoice.id)).dunning).toMatchObject({
      step: 1,
      state: 'ACTIVE',
      lastAttemptAt: new Date(clock.now()).toISOString(),
      nextAttemptAt: new Date(clock.now() + 2 * DAY).toISOString(),
    });

    await passDays(1);
    expect((await t.server.dunning.tick()).steps).toEqual([]);
    await passDays(1);
    expect((await t.server.dunning.tick()).steps.map((s) => s.step)).toEqual([2]);
    await passDays(2);
    const last = await t.server.dunning.tick();
    expect(last.steps.map((s) => [s.step, s.outcome, s.state])).toEqual([
      [3, 'declined: generic_decline; marked uncollectible', 'EXHAUSTED'],
    ]);
    expect(await stripeAttempts(invoice.stripeId)).toBe(4);
    expect(await reminders(invoice.stripeId)).toBe(sentAtCreation + 3);
    expect((await t.stripe.invoices.retrieve(invoice.stripeId)).status).toBe('uncollectible');
    const ended = await dunningOf(userId, invoice.id);
    expect(ended).toMatchObject({
      status: 'UNCOLLECTIBLE',
      dunning: { step: 3, state: 'EXHAUSTED', nextAttemptAt: null },
    });

    // Each retry is a payment attempt like payInvoice's, off-session, by dunning; the history says why.
    const attempts = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ dunning_step: number | null; requested_by: string; status: string }>>(
        'select dunning_step, requested_by, status from payment_attempts where invoice_id = ? order by attempt_number',
        [invoice.id],
      );
    expect(attempts).toEqual([
      { dunning_step: null, requested_by: userId, status: 'declined' },
      { dunning_step: 1, requested_by: 'dunning', status: 'declined' },
      { dunning_step: 2, requested_by: 'dunning', status: 'declined' },
      { dunning_step: 3, requested_by: 'dunning', status: 'declined' },
    ]);
    const history = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ to_status: string; source: string; source_ref: string }>>(
        `select to_status, source, source_ref from invoice_status_changes where invoice_id = ? and source = 'SYSTEM'
         order by id`,
        [invoice.id],
      );
    expect(history.at(-1)).toEqual({ to_status: 'UNCOLLECTIBLE', source: 'SYSTEM', source_ref: 'dunning:step:3' });

    // Nothing more happens afterwards.
    await passDays(10);
    expect((await t.server.dunning.tick()).steps).toEqual([]);
    expect(await stripeAttempts(invoice.stripeId)).toBe(4);
  });

  it('a payment between two steps ends dunning at once: no more reminders or retries', async () => {
    const userId = newUser();
    const invoice = await openInvoice(userId);
    expect(await pay(userId, invoice.id, 'pm_card_chargeDeclined')).toBe('PaymentDeclined');
    await t.server.dunning.tick();
    await passDays(1);
    expect((await t.server.dunning.tick()).steps.map((s) => s.step)).toEqual([1]);
    const sent = await reminders(invoice.stripeId);

    expect(await pay(userId, invoice.id, 'pm_card_visa')).toBe('Invoice');
    // Visible at once, before any instance has looked.
    expect((await dunningOf(userId, invoice.id)).dunning).toMatchObject({ state: 'RECOVERED', nextAttemptAt: null });
    await passDays(5);
    expect((await t.server.dunning.tick()).steps).toEqual([]);
    expect(await stripeAttempts(invoice.stripeId)).toBe(3);
    expect(await reminders(invoice.stripeId)).toBe(sent);
    expect((await dunningOf(userId, invoice.id)).dunning).toMatchObject({ step: 1, state: 'RECOVERED' });
  });

  it('a last retry that asks for 3-D Secure is not a payment: the final action applies, and the customer can still pay', async () => {
    const userId = newUser();
    const invoice = await openInvoice(userId, '2024-01');
    expect(await pay(userId, invoice.id, 'pm_card_chargeDeclined')).toBe('PaymentDeclined');
    await t.server.dunning.tick();
    // The customer tries a card that needs authentication and leaves the challenge: the invoice waits (REQUIRES_ACTION)
    // and dunning goes on, retrying with that card.
    expect(await pay(userId, invoice.id, 'pm_card_authenticationRequired')).toBe('PaymentRequiresAction');
    await passDays(1);
    expect((await t.server.dunning.tick()).steps.map((s) => [s.step, s.outcome, s.state])).toEqual([
      [1, 'requires action: the customer must authenticate', 'ACTIVE'],
    ]);
    await passDays(2);
    expect((await t.server.dunning.tick()).steps.map((s) => s.step)).toEqual([2]);
    await passDays(2);
    expect((await t.server.dunning.tick()).steps.map((s) => [s.step, s.outcome, s.state])).toEqual([
      [3, 'requires action: the customer must authenticate; marked uncollectible', 'EXHAUSTED'],
    ]);
    expect((await t.stripe.invoices.retrieve(invoice.stripeId)).status).toBe('uncollectible');
    expect(await dunningOf(userId, invoice.id)).toMatchObject({
      status: 'UNCOLLECTIBLE',
      dunning: { step: 3, state: 'EXHAUSTED', nextAttemptAt: null },
    });
    const [last] = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ from_status: string; to_status: string; source_ref: string; reason: string }>>(
        `select from_status, to_status, source_ref, reason from invoice_status_changes where invoice_id = ?
         order by id desc limit 1`,
        [invoice.id],
      );
    expect(last).toEqual({
      from_status: 'REQUIRES_ACTION',
      to_status: 'UNCOLLECTIBLE',
      source_ref: 'dunning:step:3',
      reason: 'dunning: the last retry awaits authentication by the customer; marked uncollectible',
    });

    // Written off is not forgiven: the customer can still pay it (authenticating, or with another card), and it is
    // PAID. (Here with a card: this file's server clock is days ahead of the wall clock the local Stripe signs its
    // webhooks with, so a payment known only by webhook would not arrive; tests/emulator/payments.test.ts shows
    // Stripe's side of an authentication completed after the write-off.)
    expect(await pay(userId, invoice.id, 'pm_card_visa')).toBe('Invoice');
    expect(await dunningOf(userId, invoice.id)).toMatchObject({
      status: 'PAID',
      dunning: { step: 3, state: 'EXHAUSTED' },
    });
  });

  it('retries with the payment method the customer last paid with', async () => {
    const userId = newUser();
    const paid = await openInvoice(userId);
    expect(await pay(userId, paid.id, 'pm_card_visa')).toBe('Invoice');
    const invoice = await openInvoice(userId, '2024-02');
    expect(await pay(userId, invoice.id, 'pm_card_chargeDeclined')).toBe('PaymentDeclined');
    await t.server.dunning.tick();
    await passDays(1);
    expect((await t.server.dunning.tick()).steps.map((s) => [s.step, s.outcome, s.state])).toEqual([
      [1, 'paid', 'RECOVERED'],
    ]);
    expect(await dunningOf(userId, invoice.id)).toMatchObject({ status: 'PAID', dunning: { state: 'RECOVERED' } });
  });

  it('two instances on one database checking at once run each due step once', async () => {
    const second = await createServer({
      config: t.config,
      db: t.database.db,
      clock,
      gateway: gatewayFromConfig(t.config),
    });
    try {
      const invoices: Array<{ id: string; stripeId: string }> = [];
      for (let i = 0; i < 4; i += 1) {
        const userId = newUser();
        const invoice = await openInvoice(userId);
        expect(await pay(userId, invoice.id, 'pm_card_chargeDeclined')).toBe('PaymentDeclined');
        invoices.push(invoice);
      }
      await t.server.dunning.tick();
      await passDays(1);
      const [a, b] = await Promise.all([t.server.dunning.tick(), second.dunning.tick()]);
      const ran = [...a.steps, ...b.steps].map((s) => s.invoiceId).sort();
      expect(ran).toEqual(invoices.map((i) => i.id).sort());
      for (const invoice of invoices) {
        expect(await stripeAttempts(invoice.stripeId)).toBe(2);
      }
    } finally {
      await second.close();
    }
  });

  onPostgres(
    'an instance killed mid-step: another resumes the step after its lease, and Stripe sees it once',
    async () => {
      const db2: Database = await openDatabase({ databaseUrl: t.database.url!, poolMax: 3 });
      let killed: BillingServer | undefined = await createServer({
        config: t.config,
        db: db2,
        clock,
        gateway: gatewayFromConfig(t.config),
      });
      const userId = newUser();
      const invoice = await openInvoice(userId);
      expect(await pay(userId, invoice.id, 'pm_card_chargeDeclined')).toBe('PaymentDeclined');
      await t.server.dunning.tick();
      await passDays(1);
      const sent = await reminders(invoice.stripeId);

      // The first instance claims the step, sends the reminder and asks Stripe to charge; Stripe holds the request…
      const hold = await t.control.holdRequests({ path: `/v1/invoices/${invoice.stripeId}/pay`, count: 1 });
      const dying = killed.dunning.tick().catch((error: unknown) => error);
      await t.control.waitForHeld(hold.id);
      // …and the instance dies: its database connections are gone before Stripe's answer arrives.
      await db2.close();
      await t.control.release(hold.id);
      expect((await dying) instanceof Error || (await dying)).toBeTruthy();
      expect(await stripeAttempts(invoice.stripeId)).toBe(2);

      // Within the lease, the other instance leaves the step alone.
      expect((await t.server.dunning.tick()).steps).toEqual([]);
      clock.advance(301_000);
      const resumed = await t.server.dunning.tick();
      expect(resumed.steps.map((s) => [s.step, s.outcome])).toEqual([[1, 'declined: generic_decline']]);
      // The charge was not made again (the attempt's idempotency key replayed Stripe's answer), nor the reminder sent.
      expect(await stripeAttempts(invoice.stripeId)).toBe(2);
      expect(await reminders(invoice.stripeId)).toBe(sent + 1);
      const attempts = await t.database.db.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ n: string }>>(
          'select count(*)::text as n from payment_attempts where invoice_id = ? and dunning_step = 1',
          [invoice.id],
        );
      expect(attempts).toEqual([{ n: '1' }]);
      await killed.close().catch(() => undefined);
      killed = undefined;
    },
  );

  it('dunning for admins: every invoice of a period in dunning, with its step', async () => {
    const admin = await t.token('admin-1', Role.ADMIN);
    const res = await t.gql<
      { dunningInvoices: Array<{ invoice: { period: string }; dunning: { state: string } }> },
      object
    >(
      `{ dunningInvoices(period: "2024-01") { invoice { id period status } dunning { step state nextAttemptAt } } }`,
      {},
      { token: admin },
    );
    expect(res.body.errors).toBeUndefined();
    const states = res.body.data!.dunningInvoices.map((row) => row.dunning.state);
    expect(states).toEqual(expect.arrayContaining(['EXHAUSTED', 'RECOVERED', 'ACTIVE']));
    expect(res.body.data!.dunningInvoices.every((row) => row.invoice.period === '2024-01')).toBe(true);
    const user = await t.token('dunning-1');
    const refused = await t.gql(`{ dunningInvoices(period: "2024-01") { invoice { id } } }`, {}, { token: user });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('dunning from the due date (DUNNING_START=due_date)', () => {
  let t: TestServer;
  // The local Stripe's time: due dates are Stripe's, so both clocks start together.
  const clock = new ManualClock();

  beforeAll(async () => {
    t = await startTestServer(
      {
        DUNNING_RETRY_DAYS: '0,2',
        DUNNING_START: 'due_date',
        DUNNING_REMINDERS: 'true',
        DUNNING_FINAL_ACTION: 'none',
        DUNNING_INTERVAL_SECONDS: '0',
        INVOICE_DUE_DAYS: '1',
      },
      { clock },
    );
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  it('an invoice nobody tried to pay: reminders from its due date, no charge without a payment method, then left as is', async () => {
    const userId = 'due-date-1';
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-03-15T10:00:00Z' }]);
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-03' }, { token: await t.token(userId) });
    const invoice = res.body.data!.createInvoice as { id: string; dueDate: string };
    const [{ stripe_invoice_id: stripeId }] = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ stripe_invoice_id: string }>>('select stripe_invoice_id from invoices where id = ?', [
        invoice.id,
      ]);
    const sentEvents = async (): Promise<number> =>
      (await t.stripe.events.list({ type: 'invoice.sent', limit: 100 })).data.filter(
        (e) => (e.data.object as Stripe.Invoice).id === stripeId,
      ).length;
    const passDays = async (days: number): Promise<void> => {
      clock.advance(days * DAY);
      await t.control.advanceClock((days * DAY) / 1000);
    };
    const sent = await sentEvents();

    // Not due yet: not in dunning.
    expect(await t.server.dunning.tick()).toMatchObject({ enrolled: 0, steps: [] });
    await passDays(1.5);
    // Overdue: step 1 (day 0 after the due date) runs at once: a reminder; nothing to charge.
    const first = await t.server.dunning.tick();
    expect(first).toMatchObject({ enrolled: 1 });
    expect(first.steps.map((s) => [s.step, s.outcome, s.state])).toEqual([
      [1, 'no payment method to retry with', 'ACTIVE'],
    ]);
    expect(await sentEvents()).toBe(sent + 1);
    await passDays(2);
    const last = await t.server.dunning.tick();
    expect(last.steps.map((s) => [s.step, s.outcome, s.state])).toEqual([
      [2, 'no payment method to retry with', 'EXHAUSTED'],
    ]);
    expect(await sentEvents()).toBe(sent + 2);
    // DUNNING_FINAL_ACTION=none: the invoice stays open, in Stripe too.
    expect((await t.stripe.invoices.retrieve(stripeId)).status).toBe('open');
    const [row] = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ status: string }>>('select status from invoices where id = ?', [invoice.id]);
    expect(row.status).toBe('OPEN');
    expect((await t.stripe.invoices.retrieve(stripeId)).attempt_count).toBe(0);
  });
});
