import type { DunningCheck } from '../../src/services/dunning/dunning-worker';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, PayInvoiceDocument } from '../generated/graphql';
import { ManualClock } from '../helpers/clock';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';
import { waitForEvent } from '../helpers/wait';

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;

/**
 * Dunning as it runs in production: nobody calls `tick()`. The server's own timer (started by `listen`, checking every
 * `DUNNING_INTERVAL_SECONDS` of the server's clock) finds the failed invoice, runs its steps on their days and
 * applies the final action. The test only moves time (the server's clock and the local Stripe's test clock) and waits
 * for the timer's checks as events (`dunning.onCheck`).
 */
describe('dunning: the server’s own timer runs the steps', () => {
  let t: TestServer;
  const clock = new ManualClock(new Date('2026-12-06T12:00:00Z'));
  const checks: DunningCheck[] = [];

  beforeAll(async () => {
    t = await startTestServer(
      {
        DUNNING_RETRY_DAYS: '1,3',
        DUNNING_FINAL_ACTION: 'uncollectible',
        DUNNING_INTERVAL_SECONDS: '3600',
      },
      { clock },
    );
    t.server.dunning.onCheck((check) => checks.push(check));
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  /**
   * Moves both clocks by `ms` and resolves with the timer's check at the new time. The timer sleeps on the clock an
   * interval (an hour) at a time, so each move of at least that long wakes it exactly once.
   */
  const passAndCheck = async (ms: number): Promise<DunningCheck> => {
    await t.control.advanceClock(ms / 1000);
    const at = clock.now() + ms;
    clock.advance(ms);
    const ran = (): DunningCheck | undefined => checks.find((c) => c.at.getTime() === at);
    await waitForEvent(
      `the timer's check at ${new Date(at).toISOString()}`,
      () => ran() !== undefined,
      (wake) => t.server.dunning.onCheck(wake),
    );
    return ran()!;
  };

  it('failure → retries on days 1 and 3 → uncollectible, without anyone calling tick()', async () => {
    const userId = 'timer-1';
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
    const token = await t.token(userId);
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    const invoice = created.body.data!.createInvoice as { id: string };
    const paid = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_chargeDeclined' },
      { token },
    );
    expect(paid.body.data!.payInvoice.__typename).toBe('PaymentDeclined');
    const [{ stripe_invoice_id: stripeId }] = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ stripe_invoice_id: string }>>('select stripe_invoice_id from invoices where id = ?', [
        invoice.id,
      ]);

    // The timer's next check (an hour on) puts the failed invoice into dunning.
    const enrolment = await passAndCheck(HOUR);
    expect(enrolment).toMatchObject({ enrolled: 1, steps: [] });
    // A day later its check runs step 1; the day after, nothing is due.
    const first = await passAndCheck(DAY);
    expect(first.steps.map((s) => [s.invoiceId, s.step, s.outcome, s.state])).toEqual([
      [invoice.id, 1, 'declined: generic_decline', 'ACTIVE'],
    ]);
    expect((await passAndCheck(DAY)).steps).toEqual([]);
    const last = await passAndCheck(DAY);
    expect(last.steps.map((s) => [s.step, s.outcome, s.state])).toEqual([
      [2, 'declined: generic_decline; marked uncollectible', 'EXHAUSTED'],
    ]);

    // What the timer did is what Stripe and the API show: two retries, the invoice written off in both.
    expect((await t.stripe.invoices.retrieve(stripeId)).attempt_count).toBe(3);
    expect((await t.stripe.invoices.retrieve(stripeId)).status).toBe('uncollectible');
    const read = await t.gql<{ invoice: { status: string; dunning: unknown } }, { id: string }>(
      `query($id: ID!) { invoice(id: $id) { status dunning { step state nextAttemptAt } } }`,
      { id: invoice.id },
      // A token of the server's time now (the first one expired days ago on its clock).
      { token: await t.token(userId) },
    );
    expect(read.body.data!.invoice).toEqual({
      status: 'UNCOLLECTIBLE',
      dunning: { step: 2, state: 'EXHAUSTED', nextAttemptAt: null },
    });
    // Later checks find nothing more to do.
    expect((await passAndCheck(DAY)).steps).toEqual([]);
    expect((await t.stripe.invoices.retrieve(stripeId)).attempt_count).toBe(3);
  });
});
