import { loadConfig } from '../../src/config/config';
import { randomUUID } from 'node:crypto';
import { cancelInvoice } from '../../src/services/invoicing/cancel-invoice.service';
import { createInvoice } from '../../src/services/invoicing/create-invoice.service';
import { reconcile } from '../../src/services/reconciliation/reconcile-invoices.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import type { Database } from '../../src/entities/orm';
import { openDatabase } from '../../src/entities/orm';
import { missedPeriods } from '../../src/services/billing-runs/billing-catch-up';
import type { BillingScheduler } from '../../src/services/billing-runs/billing-scheduler';
import {
  billingSchedulerSettings,
  duePeriod,
  startBillingScheduler,
} from '../../src/services/billing-runs/billing-scheduler';
import { getBillingRun } from '../../src/services/billing-runs/get-billing-run.service';
import { runBilling } from '../../src/services/billing-runs/billing-run.service';
import { ManualClock } from '../helpers/clock';
import type { BillingHarness } from './helpers';
import { SERVICE, afterPeriod, billingHarness } from './helpers';

describe('billing scheduler and reconciliation', () => {
  let h: BillingHarness;
  let second: Database | undefined;
  const schedulers: BillingScheduler[] = [];
  beforeAll(async () => {
    h = await billingHarness();
  });
  afterAll(async () => {
    await Promise.all(schedulers.map((s) => s.stop()));
    await second?.close();
    await h.close();
  });

  it('knows which period is due', () => {
    expect(duePeriod(new Date('2024-02-01T00:59:59Z'))).toBe('2023-12');
    expect(duePeriod(new Date('2024-02-01T01:00:00Z'))).toBe('2024-01');
    expect(duePeriod(new Date('2024-02-01T00:10:00Z'), 5 * 60_000)).toBe('2024-01');
    expect(billingSchedulerSettings(loadConfig({}).scheduler)).toEqual({
      enabled: true,
      graceMs: 3_600_000,
      intervalMs: 60_000,
      catchUpMonths: 3,
      concurrency: 4,
    });
    const configured = loadConfig({ BILLING_SCHEDULER_ENABLED: 'off', BILLING_GRACE_MINUTES: '5' });
    expect(billingSchedulerSettings(configured.scheduler)).toMatchObject({ enabled: false, graceMs: 300_000 });
    expect(() => loadConfig({ BILLING_GRACE_MINUTES: 'soon' })).toThrow(/BILLING_GRACE_MINUTES/);
  });

  it('bills January once per customer at 1 February 01:00, with two instances on one database', async () => {
    const users = Array.from({ length: 6 }, (_, i) => `sched-${i}`);
    await h.usage('2024-01', users);
    // Both instances run on one clock that only the test moves: a tick happens when the test says so.
    const clock = new ManualClock(new Date('2024-02-01T00:30:00Z'));
    // A second instance: its own connection pool on PostgreSQL; PGlite is one in-process database, so one will do.
    second = h.t.database.url ? await openDatabase({ databaseUrl: h.t.database.url, poolMax: 5 }) : undefined;
    const ems = second ? [h.t.database.db.orm.em, second.orm.em] : [h.t.database.db.orm.em];
    for (const em of ems) {
      schedulers.push(
        startBillingScheduler({
          ...h.deps('2024-01'),
          em,
          clock,
          intervalMs: 60_000,
          run: { concurrency: 2, batchSize: 2 },
        }),
      );
    }
    // Each instance checks at start (tick() joins a check under way): within the grace period January is not due.
    // While they check, their short waits (a claim raced by the other instance) pass; the next tick waits for us.
    const ticks = () => clock.runUntilSettled(Promise.all(schedulers.map((s) => s.tick())), { upToMs: 1000 });
    await ticks();
    expect(await getBillingRun(h.em.fork(), '2024-01')).toBeNull();
    expect(await h.invoiceCount('2024-01')).toBe(0);

    // Both wait for their next check; 01:00 ends the grace period and wakes them.
    await clock.whenSleeping(schedulers.length);
    clock.set(new Date('2024-02-01T01:00:00Z'));
    await ticks();
    expect(await getBillingRun(h.em.fork(), '2024-01')).toMatchObject({ status: 'completed', total: 6, done: 6 });
    // More ticks on both instances change nothing.
    await clock.whenSleeping(schedulers.length);
    clock.advance(60_000);
    await ticks();
    expect(await getBillingRun(h.em.fork(), '2024-01')).toMatchObject({
      status: 'completed',
      trigger: 'scheduler',
      total: 6,
      done: 6,
      failed: 0,
    });
    expect(await h.invoiceCount('2024-01', users)).toBe(6);
    const perCustomer = await h.em
      .fork()
      .execute<Array<{ n: number }>>(
        `select count(*)::int as n from invoices where period = '2024-01' group by customer_id`,
      );
    expect(perCustomer.map((r) => Number(r.n))).toEqual([1, 1, 1, 1, 1, 1]);
    const counts = await h.stripeInvoiceCounts();
    const rows = await h.em.fork().execute<Array<{ id: string }>>(`select id from invoices where period = '2024-01'`);
    expect(rows.map((r) => counts.get(r.id))).toEqual(rows.map(() => 1));
    await Promise.all(schedulers.splice(0).map((s) => s.stop()));
  });

  it('does nothing when switched off', async () => {
    const clock = new ManualClock(afterPeriod('2024-02'));
    const scheduler = startBillingScheduler({ ...h.deps('2024-02'), clock, enabled: false, intervalMs: 10 });
    await h.usage('2024-02', ['sched-off']);
    expect(await scheduler.tick()).toBeNull();
    // No check is waiting for its time: however far the clock moves, nothing runs.
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(await getBillingRun(h.em.fork(), '2024-02')).toBeNull();
    await scheduler.stop();
  });

  it('catches up: bills earlier months that hold usage on no invoice, within BILLING_CATCH_UP_MONTHS, once', async () => {
    const clock = new ManualClock(afterPeriod('2024-06')); // 1 July 01:00: June is due
    // May was billed (one customer), then usage arrived for a customer that run did not invoice.
    await h.usage('2024-05', ['may-1']);
    await runBilling(h.deps('2024-05'), '2024-05', { trigger: 'cli' });
    await h.usage('2024-05', ['catch-late']);
    await h.usage('2024-04', ['catch-apr']); // no scheduler ran for April
    await h.usage('2024-02', ['catch-old']); // four months before June: outside the window of 3
    const runs = async (): Promise<number> =>
      Number((await h.em.fork().execute<Array<{ n: number }>>(`select count(*)::int as n from billing_runs`))[0].n);
    const runsBefore = await runs();
    const scheduler = startBillingScheduler({
      ...h.deps('2024-06'),
      clock,
      intervalMs: 60_000,
      catchUpMonths: 3,
      run: { concurrency: 2 },
    });
    try {
      // The check made at start: catch-up, then June.
      await clock.runUntilSettled(scheduler.tick(), { upToMs: 1000 });
      expect(await getBillingRun(h.em.fork(), '2024-06')).toMatchObject({ status: 'completed' });
      expect(await h.invoiceCount('2024-04', ['catch-apr'])).toBe(1);
      expect(await h.invoiceCount('2024-05', ['may-1', 'catch-late'])).toBe(2);
      expect(await h.invoiceCount('2024-02', ['catch-old'])).toBe(0);
      expect(await getBillingRun(h.em.fork(), '2024-05')).toMatchObject({ status: 'completed', total: 2, done: 2 });
      // March had no usage: no run was made for it. New runs: April and June.
      expect(await getBillingRun(h.em.fork(), '2024-03')).toBeNull();
      expect((await runs()) - runsBefore).toBe(2);
      // Checked once per due period: another tick at the same time starts nothing.
      expect(await clock.runUntilSettled(scheduler.tick(), { upToMs: 1000 })).toBeNull();
    } finally {
      await scheduler.stop();
    }
    expect(await missedPeriods(h.em, '2024-06', 3)).toEqual([]);
    expect(await missedPeriods(h.em, '2024-06', 5)).toEqual(['2024-02']);
  });

  it('bills at the next tick usage that arrives for the month just billed, for a customer its run did not invoice', async () => {
    await h.usage('2025-01', ['due-first', 'due-cancelled']);
    // 1 February 2025, 01:00 on the injected clock: January is due. Ticks are driven here, not by the timer.
    const scheduler = startBillingScheduler({ ...h.deps('2025-01'), intervalMs: 3_600_000, catchUpMonths: 1 });
    try {
      expect(await scheduler.tick()).toMatchObject({
        kind: 'completed',
        run: { period: '2025-01', total: 2, done: 2 },
      });

      // Nothing arrived since: the next tick starts nothing, and an invoice cancelled since is not billed again.
      const [row] = await h.em.fork().execute<Array<{ id: string }>>(
        `select i.id from invoices i join customers c on c.id = i.customer_id
         where c.external_user_id = 'due-cancelled' and i.period = '2025-01'`,
      );
      const cancelled = await cancelInvoice({ em: h.em.fork(), gateway: h.gateway, config: h.t.config }, SERVICE, {
        invoiceId: row.id,
        reason: 'billed by mistake',
      });
      expect(cancelled.kind).toBe('voided');
      expect(await scheduler.tick()).toBeNull();
      expect(await h.invoiceCount('2025-01', ['due-cancelled'])).toBe(0);

      // January usage arrives for a customer the run did not invoice (and more for one it did: late usage).
      await h.usage('2025-01', ['due-new', 'due-first']);
      expect(await scheduler.tick()).toMatchObject({
        kind: 'completed',
        run: { period: '2025-01', status: 'completed', trigger: 'scheduler', failed: 0 },
      });
      expect(await h.invoiceCount('2025-01', ['due-new'])).toBe(1);
      expect(await h.invoiceCount('2025-01', ['due-first'])).toBe(1);
      const counts = await h.stripeInvoiceCounts();
      const billed = await h.em
        .fork()
        .execute<Array<{ id: string }>>(`select id from invoices where period = '2025-01' and status <> 'VOID'`);
      expect(billed.map((r) => counts.get(r.id))).toEqual(billed.map(() => 1));

      // Billed: the tick after that starts nothing again.
      expect(await scheduler.tick()).toBeNull();
    } finally {
      await scheduler.stop();
    }
  });

  it('every tick finishes an earlier run a crashed instance left running, not only the due one', async () => {
    await h.usage('2024-11', ['left-1', 'left-2']);
    const stopped = new AbortController();
    stopped.abort(); // the instance stops at once: the run stays "running" with its items pending
    const left = await runBilling(h.deps('2024-11'), '2024-11', { trigger: 'scheduler', signal: stopped.signal });
    expect(left).toMatchObject({ kind: 'in_progress' });
    const clock = new ManualClock(afterPeriod('2024-12'));
    const scheduler = startBillingScheduler({ ...h.deps('2024-12'), clock, intervalMs: 60_000, catchUpMonths: 0 });
    try {
      await clock.runUntilSettled(scheduler.tick(), { upToMs: 1000 }); // the check made at start
      expect(await getBillingRun(h.em.fork(), '2024-11')).toMatchObject({ status: 'completed' });
      expect(await h.invoiceCount('2024-11', ['left-1', 'left-2'])).toBe(2);
    } finally {
      await scheduler.stop();
    }
  });

  it('does not re-run a period for a customer whose usage had nothing billable, until more usage arrives', async () => {
    await h.usage('2023-12', ['unpriced']); // the default prices start in 2024
    expect(await missedPeriods(h.em, '2024-01', 1)).toEqual(['2023-12']);
    const result = await runBilling(h.deps('2023-12'), '2023-12', { trigger: 'cli' });
    expect(result).toMatchObject({ kind: 'completed', run: { skipped: 1 } });
    expect(await missedPeriods(h.em, '2024-01', 1)).toEqual([]);
    await h.usage('2023-12', ['unpriced']);
    expect(await missedPeriods(h.em, '2024-01', 1)).toEqual(['2023-12']);
  });

  const open = async (userId: string, gateway = h.gateway) => {
    await h.usage('2024-09', [userId]);
    return createInvoice({ em: h.em.fork(), gateway, config: h.t.config, now: afterPeriod('2024-09') }, SERVICE, {
      period: '2024-09',
      userId,
    });
  };
  const rows = async () =>
    Object.fromEntries(
      (
        await h.em.fork().execute<Array<{ user: string; status: string; amount_paid_minor: string }>>(
          `select c.external_user_id as user, i.status, i.amount_paid_minor::text as amount_paid_minor
           from invoices i join customers c on c.id = i.customer_id where i.period = '2024-09'`,
        )
      ).map((r) => [r.user, [r.status, Number(r.amount_paid_minor)]]),
    );

  it('reconciliation repairs a missed payment, a missed void and a stuck DRAFT, reports orphans, and dry-runs first', async () => {
    // Stripe's webhooks never reach us from here on: everything Stripe does is "missed".
    await h.t.control.setWebhookTarget(null);
    const paid = await open('rec-paid');
    const voided = await open('rec-void');
    const untouched = await open('rec-open');
    await h.t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/finalize', method: 'POST' });
    const stuck = await open('rec-draft', gatewayFromConfig(h.t.config, { maxNetworkRetries: 0 }));
    await h.t.control.clearFaults();
    expect([paid.kind, voided.kind, untouched.kind, stuck.kind]).toEqual([
      'invoice',
      'invoice',
      'invoice',
      'stripe_unavailable',
    ]);
    if (paid.kind !== 'invoice' || voided.kind !== 'invoice' || stuck.kind !== 'stripe_unavailable') {
      return;
    }
    // The customer pays through Stripe directly; an operator voids another invoice in the dashboard.
    await h.t.stripe.invoices.pay(paid.invoice.stripeInvoiceId as string, { payment_method: 'pm_card_visa' });
    await h.t.stripe.invoices.voidInvoice(voided.invoice.stripeInvoiceId as string);
    // A Stripe invoice with our metadata and no row here.
    const orphan = await h.t.stripe.invoices.create({
      customer: paid.invoice.stripeCustomerId as string,
      metadata: { agenthub_invoice_id: randomUUID(), agenthub_period: '2024-09' },
    });
    const before = await rows();
    expect(before).toEqual({
      'rec-paid': ['OPEN', 0],
      'rec-void': ['OPEN', 0],
      'rec-open': ['OPEN', 0],
      'rec-draft': ['DRAFT', 0],
    });

    const deps = { ...h.deps('2024-09') };
    const dry = await reconcile(deps, { period: '2024-09', dryRun: true });
    const expected = [
      { invoiceId: paid.invoice.id, action: 'status', from: 'OPEN', to: 'PAID' },
      { invoiceId: paid.invoice.id, action: 'amount_paid', from: '0', to: '247' },
      { invoiceId: voided.invoice.id, action: 'status', from: 'OPEN', to: 'VOID' },
      { invoiceId: stuck.invoice.id, action: 'resume', from: 'DRAFT', to: 'OPEN' },
    ];
    const sortById = <T extends { invoiceId: string; action: string }>(list: T[]): T[] =>
      [...list].sort((a, b) => `${a.invoiceId}${a.action}`.localeCompare(`${b.invoiceId}${b.action}`));
    expect(dry).toMatchObject({ period: '2024-09', dryRun: true, checked: 4, warnings: [], errors: [] });
    expect(sortById(dry.changes)).toEqual(
      sortById(expected).map((c) => expect.objectContaining({ ...c, applied: false })),
    );
    expect(dry.orphans).toEqual([expect.objectContaining({ stripeInvoiceId: orphan.id, status: 'draft' })]);
    expect(await rows()).toEqual(before);

    const applied = await reconcile(deps, { period: '2024-09' });
    expect(sortById(applied.changes)).toEqual(
      sortById(expected).map((c) => expect.objectContaining({ ...c, applied: true })),
    );
    expect(applied.errors).toEqual([]);
    expect(await rows()).toEqual({
      'rec-paid': ['PAID', 247],
      'rec-void': ['VOID', 0],
      'rec-open': ['OPEN', 0],
      'rec-draft': ['OPEN', 0],
    });
    const history = await h.em
      .fork()
      .execute<Array<{ from_status: string; to_status: string; source: string }>>(
        `select from_status, to_status, source from invoice_status_changes where invoice_id = ? order by occurred_at`,
        [paid.invoice.id],
      );
    expect(history.at(-1)).toEqual({ from_status: 'OPEN', to_status: 'PAID', source: 'RECONCILIATION' });
    const stripeStuck = await h.t.stripe.invoices.retrieve(stuck.invoice.stripeInvoiceId as string);
    expect(stripeStuck.status).toBe('open');

    // Nothing left to do: a second pass changes nothing.
    const again = await reconcile(deps, { period: '2024-09' });
    expect(again.changes).toEqual([]);
    expect(again.orphans).toHaveLength(1);
  });
});
