import type Stripe from 'stripe';
import { RateLimiter, StripeGateway, createStripeClient } from '../../src/stripe';
import { startEmulator } from '../../emulator/server';
import { EmulatorControl } from '../../emulator/control-client';
import { ManualClock } from '../helpers/clock';
import { TEST_STRIPE_KEY } from '../helpers/server';
import { graphql } from 'graphql';
import { buildSchema } from 'type-graphql';
import { Role } from '../../src/entities/enums';
import { RESOLVERS } from '../../src/resolvers';
import { BillingOpsResolver } from '../../src/resolvers/billing-ops.resolver';
import type { GraphQLContext } from '../../src/resolvers/context';
import { runBilling } from '../../src/services/billing-runs/billing-run.service';
import { cancelInvoice } from '../../src/services/invoicing/cancel-invoice.service';
import { createInvoice } from '../../src/services/invoicing/create-invoice.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { getBillingRun } from '../../src/services/billing-runs/get-billing-run.service';
import type { BillingHarness } from './helpers';
import { SERVICE, afterPeriod, billingHarness } from './helpers';

describe('billing run', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await billingHarness();
  });
  afterAll(() => h.close());
  afterEach(() => h.t.control.clearFaults());

  it('invoices every customer with usage once, skips the invoiced ones, and a re-run duplicates nothing', async () => {
    const users = ['run-a', 'run-b', 'run-c', 'run-d'];
    await h.usage('2024-01', users);
    await h.usage('2024-02', ['run-feb-only']);
    // Already invoiced by hand: not an item of the run.
    const manual = await createInvoice(
      { em: h.em.fork(), gateway: h.gateway, config: h.t.config, now: afterPeriod('2024-01') },
      SERVICE,
      { period: '2024-01', userId: 'run-d' },
    );
    expect(manual.kind).toBe('invoice');

    expect(await runBilling(h.deps('2024-01'), '2024-01')).toMatchObject({
      kind: 'completed',
      run: { period: '2024-01', status: 'completed', total: 3, done: 3, failed: 0, skipped: 0, failures: [] },
    });
    expect(await h.invoiceCount('2024-01', users)).toBe(4);
    expect(await h.invoiceCount('2024-01', ['run-feb-only'])).toBe(0);

    const again = await runBilling(h.deps('2024-01'), '2024-01');
    expect(again).toMatchObject({ kind: 'completed', run: { total: 3, done: 3 } });
    expect(await h.invoiceCount('2024-01', users)).toBe(4);
    const counts = await h.stripeInvoiceCounts();
    const ids = await h.em
      .fork()
      .execute<Array<{ id: string; status: string }>>(`select id, status from invoices where period = '2024-01'`);
    expect(ids.map((r) => [r.status, counts.get(r.id)])).toEqual(ids.map(() => ['OPEN', 1]));

    const progress = await getBillingRun(h.em.fork(), '2024-01');
    expect(progress).toMatchObject({ status: 'completed', total: 3, done: 3, pending: 0, processing: 0 });
    expect(progress?.finishedAt).toBeInstanceOf(Date);
    expect(await getBillingRun(h.em.fork(), '2023-12')).toBeNull();
  });

  it('a re-run bills again a customer whose invoice was voided since, or who had nothing billable until now', async () => {
    await h.usage('2024-10', ['rerun-void']);
    const first = await runBilling(h.deps('2024-10'), '2024-10');
    expect(first).toMatchObject({ kind: 'completed', run: { done: 1 } });
    const [row] = await h.em.fork().execute<Array<{ id: string }>>(
      `select i.id from invoices i join customers c on c.id = i.customer_id
         where c.external_user_id = 'rerun-void' and i.period = '2024-10'`,
    );
    const cancelled = await cancelInvoice({ em: h.em.fork(), gateway: h.gateway, config: h.t.config }, SERVICE, {
      invoiceId: row.id,
      reason: 'wrong address',
    });
    expect(cancelled.kind).toBe('voided');
    expect(await h.invoiceCount('2024-10', ['rerun-void'])).toBe(0);

    const second = await runBilling(h.deps('2024-10'), '2024-10');
    expect(second).toMatchObject({ kind: 'completed', run: { total: 1, done: 1 } });
    expect(await h.invoiceCount('2024-10', ['rerun-void'])).toBe(1);
    // Nothing more to do: a third run changes nothing.
    await runBilling(h.deps('2024-10'), '2024-10');
    expect(await h.invoiceCount('2024-10', ['rerun-void'])).toBe(1);
  });

  it('refuses a period that has not ended', async () => {
    const result = await runBilling(
      { ...h.deps('2024-03'), clock: new ManualClock(new Date('2024-03-31T23:00:00Z')) },
      '2024-03',
    );
    expect(result).toEqual({ kind: 'period_not_ended', period: '2024-03' });
    expect(await getBillingRun(h.em.fork(), '2024-03')).toBeNull();
  });

  it('records failures with reasons, and a re-run resumes the DRAFTs left half-way without duplicates', async () => {
    const users = ['fail-a', 'fail-b', 'fail-c'];
    await h.usage('2024-04', users);
    // Stripe fails every finalize: each createInvoice leaves a DRAFT with its Stripe invoice and items.
    await h.t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/finalize', method: 'POST' });
    const noSdkRetries = gatewayFromConfig(h.t.config, { maxNetworkRetries: 0 });
    const failed = await runBilling(h.deps('2024-04', noSdkRetries), '2024-04', { maxAttempts: 2, retryDelayMs: 20 });
    expect(failed).toMatchObject({ kind: 'completed', run: { total: 3, done: 0, failed: 3 } });
    if (failed.kind === 'period_not_ended') {
      return;
    }
    expect(failed.run.failures).toHaveLength(3);
    for (const failure of failed.run.failures) {
      expect(failure).toMatchObject({ status: 'failed', attempts: 2, error: expect.stringMatching(/Stripe/i) });
      expect(users).toContain(failure.userId);
    }
    const drafts = await h.em
      .fork()
      .execute<Array<{ status: string }>>(`select status from invoices where period = '2024-04'`);
    expect(drafts.map((d) => d.status)).toEqual(['DRAFT', 'DRAFT', 'DRAFT']);

    await h.t.control.clearFaults();
    const retried = await runBilling(h.deps('2024-04'), '2024-04');
    expect(retried).toMatchObject({ kind: 'completed', run: { total: 3, done: 3, failed: 0, failures: [] } });
    expect(await h.invoiceCount('2024-04', users)).toBe(3);
    const counts = await h.stripeInvoiceCounts();
    const rows = await h.em
      .fork()
      .execute<Array<{ id: string; status: string }>>(`select id, status from invoices where period = '2024-04'`);
    expect(rows.map((r) => [r.status, counts.get(r.id)])).toEqual(rows.map(() => ['OPEN', 1]));
  });

  it('after a crash mid-run, the next run finishes what is left and invoices nobody twice', async () => {
    const users = Array.from({ length: 8 }, (_, i) => `crash-${i}`);
    await h.usage('2024-05', users);
    // The first instance stops after its first batch (as if killed).
    const controller = new AbortController();
    const first = await runBilling(h.deps('2024-05'), '2024-05', {
      // One worker, which the run must not add to (it adds workers while Stripe's budget goes unused).
      concurrency: 1,
      maxConcurrency: 1,
      batchSize: 2,
      signal: controller.signal,
      onProgress: (p) => (p.done >= 2 ? controller.abort() : undefined),
    });
    expect(first).toMatchObject({ kind: 'in_progress', run: { status: 'running', done: 2, total: 8 } });
    // …and one item was held by an instance that died: its lease has expired (leases are in the run's clock).
    await h.em.fork().execute(
      `update billing_run_items set status = 'processing', attempts = 1, lease_until = ?
       where id = (select id from billing_run_items where status = 'pending' order by id limit 1)`,
      [new Date(afterPeriod('2024-05').getTime() - 1000)],
    );
    const second = await runBilling(h.deps('2024-05'), '2024-05');
    expect(second).toMatchObject({ kind: 'completed', run: { status: 'completed', total: 8, done: 8, failed: 0 } });
    expect(await h.invoiceCount('2024-05', users)).toBe(8);
    const counts = await h.stripeInvoiceCounts();
    const rows = await h.em.fork().execute<Array<{ id: string }>>(`select id from invoices where period = '2024-05'`);
    expect(rows.map((r) => counts.get(r.id))).toEqual(rows.map(() => 1));
  });

  // The integrator registers BillingOpsResolver in src/resolvers/index.ts; until then the schema is built here.
  let built: ReturnType<typeof buildSchema> | undefined;
  const schema = () =>
    (built ??= buildSchema({
      resolvers: [...RESOLVERS, BillingOpsResolver],
      validate: { forbidUnknownValues: false },
      pubSub: { publish: () => undefined, subscribe: () => Promise.reject(new Error('unused')) as never },
    }));

  const gql = async (source: string, role: Role, variables: Record<string, unknown> = {}) => {
    const contextValue = {
      caller: { userId: `${role}-1`, role },
      config: h.t.config,
      gateway: h.gateway,
      em: h.t.database.db.orm.em.fork(),
      requestId: 'test',
    } as unknown as GraphQLContext;
    return graphql({ schema: await schema(), source, contextValue, variableValues: variables });
  };
  const RUN = `mutation($period: String!) { runBilling(period: $period, wait: true) {
    __typename ... on BillingRun { period status total done failed skipped failures { userId error } }
    ... on PeriodNotEnded { code period } } }`;

  it('runs billing, shows its progress and reconciles over GraphQL, for admins only (schema built here)', async () => {
    await h.usage('2024-07', ['gql-a', 'gql-b']);
    const started = await gql(RUN, Role.ADMIN, { period: '2024-07' });
    expect(started.errors).toBeUndefined();
    expect(started.data?.runBilling).toEqual({
      __typename: 'BillingRun',
      period: '2024-07',
      status: 'completed',
      total: 2,
      done: 2,
      failed: 0,
      skipped: 0,
      failures: [],
    });
    const progress = await gql(
      `{ billingRun(period: "2024-07") { status total done trigger finishedAt } }`,
      Role.SERVICE,
    );
    expect(progress.data?.billingRun).toMatchObject({ status: 'completed', total: 2, done: 2, trigger: 'api' });
    expect((await gql(`{ billingRun(period: "2023-01") { id } }`, Role.ADMIN)).data?.billingRun).toBeNull();

    const report = await gql(
      `mutation { reconcile(period: "2024-07", dryRun: true) { period dryRun checked changes { action } orphans { stripeInvoiceId } errors { message } } }`,
      Role.ADMIN,
    );
    expect(report.errors).toBeUndefined();
    expect(report.data?.reconcile).toEqual({
      period: '2024-07',
      dryRun: true,
      checked: 2,
      changes: [],
      orphans: [],
      errors: [],
    });

    const now = new Date();
    const current = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    expect((await gql(RUN, Role.ADMIN, { period: current })).data?.runBilling).toEqual({
      __typename: 'PeriodNotEnded',
      code: 'PERIOD_NOT_ENDED',
      period: current,
    });

    const denied = await gql(`{ billingRun(period: "2024-07") { id } }`, Role.USER);
    expect(denied.errors?.[0].message).toMatch(/admin or service/);
    const deniedRun = await gql(RUN, Role.SERVICE, { period: '2024-07' });
    expect(deniedRun.errors?.[0].message).toMatch(/admin/);
    const deniedReconcile = await gql(`mutation { reconcile(period: "2024-07") { checked } }`, Role.USER);
    expect(deniedReconcile.errors?.[0].message).toMatch(/admin/);
  });

  it('records who started or reopened a run: the scheduler, the CLI, or the admin who called runBilling', async () => {
    const RUN_AS = `mutation($period: String!) { runBilling(period: $period, wait: true) {
      ... on BillingRun { trigger triggeredBy total done } } }`;
    const READ = `query($period: String!) { billingRun(period: $period) { status trigger triggeredBy } }`;
    const admin = await h.t.token('ops-alice', Role.ADMIN);
    const overHttp = async (query: string, period: string) => {
      const res = await h.t.gql<Record<string, unknown>, { period: string }>(query, { period }, { token: admin });
      expect(res.body.errors).toBeUndefined();
      return res.body.data;
    };

    // The scheduler billed June; then a customer appeared and an admin re-ran it through the API.
    await h.usage('2024-06', ['who-first']);
    const scheduled = await runBilling(h.deps('2024-06'), '2024-06', { trigger: 'scheduler' });
    expect(scheduled).toMatchObject({ kind: 'completed', run: { trigger: 'scheduler', triggeredBy: null } });
    await h.usage('2024-06', ['who-later']);
    expect(await overHttp(RUN_AS, '2024-06')).toEqual({
      runBilling: { trigger: 'api', triggeredBy: 'ops-alice', total: 2, done: 2 },
    });
    expect(await overHttp(READ, '2024-06')).toEqual({
      billingRun: { status: 'completed', trigger: 'api', triggeredBy: 'ops-alice' },
    });
    expect(await h.invoiceCount('2024-06', ['who-first', 'who-later'])).toBe(2);

    // An operator's CLI re-run is the CLI's, with no admin named.
    await runBilling(h.deps('2024-06'), '2024-06', { trigger: 'cli' });
    expect(await overHttp(READ, '2024-06')).toEqual({
      billingRun: { status: 'completed', trigger: 'cli', triggeredBy: null },
    });

    // A run first started through the API names its admin too.
    await h.usage('2024-09', ['who-api']);
    expect(await overHttp(RUN_AS, '2024-09')).toEqual({
      runBilling: { trigger: 'api', triggeredBy: 'ops-alice', total: 1, done: 1 },
    });
  });

  it('bills 30 customers against a 25 req/s Stripe: follows the limit it announces, never refused', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `rl-${i}`);
    await h.usage('2024-08', users);
    // A local Stripe of its own, limited to 25 requests per second of a clock the test drives, and our limiter on
    // that same clock, starting at the pace it has against a local Stripe before any answer (500/s). Time moves
    // only while no request is on the wire, so each request reaches Stripe at the time the limiter released it,
    // however fast or loaded the machine.
    const clock = new ManualClock();
    const stripeAt25 = await startEmulator({ port: 0, rateLimit: 25, clock });
    try {
      const stripe = createStripeClient({ secretKey: TEST_STRIPE_KEY, apiBase: stripeAt25.url });
      const statuses: number[] = [];
      let onTheWire = 0;
      stripe.on('request', () => (onTheWire += 1));
      stripe.on('response', (event: Stripe.ResponseEvent) => {
        onTheWire -= 1;
        statuses.push(event.status);
        clock.poke();
      });
      const limiter = new RateLimiter({ requestsPerSecond: 500, clock });
      const gateway = new StripeGateway({ stripe, limiter });

      const started = clock.now();
      const result = await clock.runUntilSettled(runBilling(h.deps('2024-08', gateway), '2024-08'), {
        ready: () => onTheWire === 0,
      });

      expect(result).toMatchObject({ kind: 'completed', run: { total: 30, done: 30, failed: 0, failures: [] } });
      // Every item succeeded at its first attempt.
      const items = await h.em
        .fork()
        .execute<Array<{ attempts: number; error: string | null }>>(
          `select i.attempts, i.error from billing_run_items i join billing_runs r on r.id = i.run_id where r.period = '2024-08'`,
        );
      expect(items.map((i) => [Number(i.attempts), i.error])).toEqual(users.map(() => [1, null]));
      // 30 customers × (customer, invoice, item, finalize, send…): the statuses were really collected.
      expect(statuses.length).toBeGreaterThanOrEqual(150);
      // The first answer announced 25/s (`RateLimit-Policy: 25;w=1`); from then on one request every 1/23.75 s:
      // not one 429, and more than 90 % of the limit used over the run.
      expect(limiter.state).toMatchObject({ announced: 25, requestsPerSecond: 23.75, backOffs: 0 });
      expect(statuses.filter((status) => status === 429)).toEqual([]);
      const seconds = (clock.now() - started) / 1000;
      expect(statuses.length / seconds).toBeGreaterThan(0.9 * 25);
      expect(statuses.length / seconds).toBeLessThanOrEqual(25);
      expect(await h.invoiceCount('2024-08', users)).toBe(30);
    } finally {
      await stripeAt25.stop();
    }
  });

  it('backs off on a 429 and climbs back to the announced limit; the refused call is repeated', async () => {
    const users = ['rl-back-a', 'rl-back-b'];
    await h.usage('2024-12', users);
    const clock = new ManualClock();
    const stripeAt25 = await startEmulator({ port: 0, rateLimit: 25, clock });
    try {
      const stripe = createStripeClient({ secretKey: TEST_STRIPE_KEY, apiBase: stripeAt25.url });
      const statuses: number[] = [];
      let onTheWire = 0;
      stripe.on('request', () => (onTheWire += 1));
      stripe.on('response', (event: Stripe.ResponseEvent) => {
        onTheWire -= 1;
        statuses.push(event.status);
        clock.poke();
      });
      const limiter = new RateLimiter({ requestsPerSecond: 500, clock });
      const gateway = new StripeGateway({ stripe, limiter });
      // Stripe refuses the first invoice creation as over its limit (the same 429 as its limiter's).
      await new EmulatorControl(stripeAt25.controlUrl).injectFault({
        kind: '429',
        path: '/v1/invoices',
        method: 'POST',
        count: 1,
      });

      const result = await clock.runUntilSettled(
        runBilling(h.deps('2024-12', gateway), '2024-12', { concurrency: 1 }),
        { ready: () => onTheWire === 0 },
      );
      expect(result).toMatchObject({ kind: 'completed', run: { total: 2, done: 2, failed: 0 } });
      expect(statuses.filter((status) => status === 429)).toHaveLength(1);
      // It backed off once and, the run's remaining seconds later, is back at 95 % of the announced 25/s.
      expect(limiter.state).toMatchObject({ announced: 25, backOffs: 1, target: 23.75 });
      const oneAfterAnother = async (): Promise<void> => {
        for (let i = 0; i < 60; i++) {
          await limiter.acquire();
        }
      };
      await clock.runUntilSettled(oneAfterAnother());
      expect(limiter.requestsPerSecond).toBe(23.75);
      expect(await h.invoiceCount('2024-12', users)).toBe(2);
    } finally {
      await stripeAt25.stop();
    }
  });
});
