import type { ExecutionResult } from 'graphql';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, ReplayWebhookEventDocument } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';
import { waitForEvent } from './helpers/wait';
import { waitFor } from './webhooks/fixtures';

/**
 * What the dashboard's usage and admin views read, over HTTP and graphql-ws as any client: `usageDaily`,
 * `customers`, `webhookEvent`, `billingRuns`, and the live `billingRunProgressed`.
 */
describe('the API behind the usage and admin views', () => {
  let t: TestServer;
  let op: Awaited<ReturnType<typeof operator>>;
  let user: string;

  const USAGE_DAILY = `query ($period: String!, $userId: String) {
    usageDaily(period: $period, userId: $userId) {
      userId period periodStart periodEnd
      metrics { metric { code name unit } aggregation days { date quantity } }
    }
  }`;
  const CUSTOMERS = `query ($search: String, $first: Int, $after: String) {
    customers(search: $search, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id userId name email } }
    }
  }`;
  const BILLING_RUNS = `query ($first: Int, $after: String) {
    billingRuns(first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { cursor node { period status total done failed } }
    }
  }`;
  const PROGRESS = `subscription ($period: String!) {
    billingRunProgressed(period: $period) { period status total pending processing done failed skipped }
  }`;

  type Daily = {
    usageDaily: {
      userId: string;
      period: string;
      periodStart: string;
      periodEnd: string;
      metrics: Array<{
        metric: { code: string };
        aggregation: string;
        days: Array<{ date: string; quantity: string }>;
      }>;
    };
  };
  type Customers = {
    customers: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
      edges: Array<{ node: { userId: string } }>;
    };
  };
  type Progress = {
    billingRunProgressed: { period: string; status: string; total: number; processing: number; done: number };
  };

  const codeOf = (res: { body: { errors?: Array<{ extensions?: Record<string, unknown> }> } }) =>
    res.body.errors?.[0]?.extensions?.code;

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
    user = await t.token('daily-dan');
    await op.createMetric({ code: 'api_calls', name: 'API calls', unit: 'call', aggregation: 'COUNT' });
    await op.createMetric({ code: 'peak_agents', name: 'Peak agents', unit: 'agent', aggregation: 'MAX' });
    await op.createMetric({
      code: 'agents_seen',
      name: 'Agents seen',
      unit: 'agent',
      aggregation: 'UNIQUE_COUNT',
      uniqueField: 'agentId',
    });
    const at = (iso: string) => ({ userId: 'daily-dan', occurredAt: iso });
    await op.record([
      // Two on Jan 3 (summed), one at the last instant of Jan 31, one at 00:00 Feb 1 (the next period), and one of
      // December (the period before).
      { ...at('2024-01-03T01:00:00Z'), metric: 'llm_input_tokens', quantity: '1000.5' },
      { ...at('2024-01-03T23:59:59.999Z'), metric: 'llm_input_tokens', quantity: '2000' },
      { ...at('2024-01-31T23:59:59Z'), metric: 'llm_input_tokens', quantity: '7' },
      { ...at('2024-02-01T00:00:00Z'), metric: 'llm_input_tokens', quantity: '99' },
      { ...at('2023-12-31T23:00:00Z'), metric: 'llm_input_tokens', quantity: '98' },
      { ...at('2024-01-05T10:00:00Z'), metric: 'api_calls', quantity: '1' },
      { ...at('2024-01-05T11:00:00Z'), metric: 'api_calls', quantity: '1' },
      { ...at('2024-01-05T12:00:00Z'), metric: 'api_calls', quantity: '1' },
      { ...at('2024-01-06T10:00:00Z'), metric: 'peak_agents', quantity: '4' },
      { ...at('2024-01-06T11:00:00Z'), metric: 'peak_agents', quantity: '9' },
      { ...at('2024-01-06T12:00:00Z'), metric: 'peak_agents', quantity: '2' },
      { ...at('2024-01-07T10:00:00Z'), metric: 'agents_seen', quantity: '1', agentId: 'a' },
      { ...at('2024-01-07T11:00:00Z'), metric: 'agents_seen', quantity: '1', agentId: 'a' },
      { ...at('2024-01-07T12:00:00Z'), metric: 'agents_seen', quantity: '1', agentId: 'b' },
      { ...at('2024-01-08T12:00:00Z'), metric: 'agents_seen', quantity: '1', agentId: 'a' },
    ]);
  });
  afterAll(() => t?.close());
  afterEach(() => t.control.clearFaults());

  describe('usageDaily', () => {
    it("aggregates each metric per UTC day by its own rule, within the period's bounds", async () => {
      const res = await t.gql<Daily, unknown>(USAGE_DAILY, { period: '2024-01' }, { token: user });
      expect(res.body.errors).toBeUndefined();
      const daily = res.body.data!.usageDaily;
      expect(daily).toMatchObject({
        userId: 'daily-dan',
        period: '2024-01',
        periodStart: '2024-01-01T00:00:00.000Z',
        periodEnd: '2024-02-01T00:00:00.000Z',
      });
      expect(daily.metrics.map((m) => [m.metric.code, m.aggregation, m.days])).toEqual([
        [
          'agents_seen',
          'UNIQUE_COUNT',
          [
            { date: '2024-01-07', quantity: '2' },
            { date: '2024-01-08', quantity: '1' },
          ],
        ],
        ['api_calls', 'COUNT', [{ date: '2024-01-05', quantity: '3' }]],
        [
          'llm_input_tokens',
          'SUM',
          [
            { date: '2024-01-03', quantity: '3000.5' },
            { date: '2024-01-31', quantity: '7' },
          ],
        ],
        ['peak_agents', 'MAX', [{ date: '2024-01-06', quantity: '9' }]],
      ]);
    });

    it('answers an empty month with no metrics, and another user’s only to an admin', async () => {
      const empty = await t.gql<Daily, unknown>(USAGE_DAILY, { period: '2023-06' }, { token: user });
      expect(empty.body.data?.usageDaily.metrics).toEqual([]);

      const other = await t.gql(
        USAGE_DAILY,
        { period: '2024-01', userId: 'daily-dan' },
        { token: await t.token('eve') },
      );
      expect(codeOf(other)).toBe('FORBIDDEN');
      const asAdmin = await t.gql<Daily, unknown>(
        USAGE_DAILY,
        { period: '2024-01', userId: 'daily-dan' },
        { token: op.admin },
      );
      expect(asAdmin.body.data?.usageDaily.metrics).toHaveLength(4);
      const nobody = await t.gql(USAGE_DAILY, { period: '2024-01', userId: 'nobody' }, { token: op.admin });
      expect(codeOf(nobody)).toBe('NOT_FOUND');
      const bad = await t.gql(USAGE_DAILY, { period: '2024-13' }, { token: user });
      expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    });
  });

  describe('customers', () => {
    it('pages through every customer by user id, and searches user id, e-mail and name', async () => {
      await op.record(
        ['cust-c', 'cust-a', 'cust-b', 'cust-d', 'cust_e'].map((userId) => ({
          userId,
          metric: 'llm_input_tokens',
          quantity: '1',
          occurredAt: '2024-01-02T00:00:00Z',
        })),
      );
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const res: { body: ExecutionResult<Customers> } = await t.gql<Customers, unknown>(
          CUSTOMERS,
          { search: 'CUST', first: 2, after },
          { token: op.admin },
        );
        expect(res.body.errors).toBeUndefined();
        const page = res.body.data!.customers;
        expect(page.totalCount).toBe(5);
        seen.push(...page.edges.map((e) => e.node.userId));
        if (!page.pageInfo.hasNextPage) {
          break;
        }
        after = page.pageInfo.endCursor;
      }
      expect(seen).toEqual(['cust-a', 'cust-b', 'cust-c', 'cust-d', 'cust_e']);

      // `_` and `%` are matched as themselves, not as patterns.
      const underscore = await t.gql<Customers, unknown>(CUSTOMERS, { search: 't_' }, { token: op.admin });
      expect(underscore.body.data?.customers.edges.map((e) => e.node.userId)).toEqual(['cust_e']);
    });

    it('is for admins only, and refuses a forged cursor or an out-of-range page', async () => {
      expect(codeOf(await t.gql(CUSTOMERS, {}, { token: user }))).toBe('FORBIDDEN');
      expect(codeOf(await t.gql(CUSTOMERS, { after: 'not a cursor!' }, { token: op.admin }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await t.gql(CUSTOMERS, { first: 101 }, { token: op.admin }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await t.gql(CUSTOMERS, { search: 'x'.repeat(101) }, { token: op.admin }))).toBe('BAD_USER_INPUT');
    });
  });

  describe('webhookEvent', () => {
    it('follows a replayed event from PENDING to its outcome; admins only', async () => {
      await op.record([
        { userId: 'hook-hana', metric: 'llm_input_tokens', quantity: '500000', occurredAt: '2024-01-03T00:00:00Z' },
      ]);
      await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await t.token('hook-hana') });
      const ONE = `query ($id: ID!) { webhookEvent(id: $id) { id type status attempts processedAt } }`;
      const LIST = `{ webhookEvents(type: "invoice.finalized", status: PROCESSED) { edges { node { id } } } }`;
      type List = { webhookEvents: { edges: Array<{ node: { id: string } }> } };
      type One = { webhookEvent: { id: string; type: string; status: string } };
      const id = await waitFor(
        async () =>
          (await t.gql<List, unknown>(LIST, {}, { token: op.admin })).body.data?.webhookEvents.edges[0]?.node.id,
        undefined,
        'a processed invoice.finalized event',
      );
      const replayed = await t.gql(ReplayWebhookEventDocument, { id }, { token: op.admin });
      expect(replayed.body.data?.replayWebhookEvent.status).toBe('PENDING');
      const done = await waitFor(
        async () => {
          const res = await t.gql<One, unknown>(ONE, { id }, { token: op.admin });
          return res.body.data?.webhookEvent.status === 'PROCESSED' ? res.body.data.webhookEvent : undefined;
        },
        undefined,
        'the replayed event processed',
      );
      expect(done).toMatchObject({ id, type: 'invoice.finalized' });

      expect(codeOf(await t.gql(ONE, { id }, { token: user }))).toBe('FORBIDDEN');
      expect(codeOf(await t.gql(ONE, { id: 'evt_nope' }, { token: op.admin }))).toBe('NOT_FOUND');
    });
  });

  describe('billingRuns and billingRunProgressed', () => {
    it('streams a run from its start to completed, as it progresses, to a subscriber that came first', async () => {
      const users = ['run-1', 'run-2', 'run-3'];
      await op.record(
        users.map((userId) => ({
          userId,
          metric: 'llm_input_tokens',
          quantity: '1234567',
          occurredAt: '2024-03-15T10:00:00Z',
        })),
      );
      const events: Progress['billingRunProgressed'][] = [];
      const errors: unknown[] = [];
      const wakers = new Set<() => void>();
      const wake = () => wakers.forEach((w) => w());
      const watching = (what: string, done: () => boolean) =>
        waitForEvent(what, done, (w) => {
          wakers.add(w);
          const off = t.server.onBillingRunWatchersChange(w);
          return () => {
            wakers.delete(w);
            off();
          };
        });
      const client = t.wsClient(op.admin);
      const stop = client.subscribe<Progress>(
        { query: PROGRESS, variables: { period: '2024-03' } },
        {
          next: (result) => {
            if (result.data) {
              events.push(result.data.billingRunProgressed);
            }
            if (result.errors) {
              errors.push(result.errors);
            }
            wake();
          },
          error: (error) => {
            errors.push(error);
            wake();
          },
          complete: () => undefined,
        },
      );
      await watching('the subscription to open', () => t.server.billingRunWatchers() === 1);
      // No run yet: nothing was sent.
      expect(events).toEqual([]);

      // Stripe holds the invoices' creation: the run is seen working before any of them is done.
      const hold = await t.control.holdRequests({ path: '^/v1/invoices$', method: 'POST' });
      const started = await t.gql(
        `mutation { runBilling(period: "2024-03") { __typename ... on BillingRun { status total done } } }`,
        {},
        { token: op.admin },
      );
      expect(started.body.data).toEqual({
        runBilling: { __typename: 'BillingRun', status: 'running', total: 3, done: 0 },
      });
      await t.control.waitForHeld(hold.id, 1);
      // Working on a customer, with nothing done while Stripe holds the first creation: the claim is announced like
      // every change, so its snapshot comes whenever the feed read the start.
      await watching('the run seen working', () => events.some((e) => e.status === 'running' && e.processing > 0));
      expect(events.every((e) => e.done === 0)).toBe(true);

      // Removed, the rule lets its held request go on and holds no more.
      await t.control.removeFault(hold.id);
      await watching('the run seen completed', () => events.some((e) => e.status === 'completed'));
      expect(errors).toEqual([]);
      expect(events.at(-1)).toMatchObject({ period: '2024-03', status: 'completed', total: 3, done: 3, failed: 0 });
      // Each event differs from the one before: an unchanged snapshot is not sent again.
      const shown = events.map((e) => JSON.stringify(e));
      expect(shown.every((e, i) => i === 0 || e !== shown[i - 1])).toBe(true);

      stop();
      await watching('the subscription to close', () => t.server.billingRunWatchers() === 0);

      const list = await t.gql<
        { billingRuns: { edges: Array<{ node: { period: string; status: string } }> } },
        unknown
      >(BILLING_RUNS, {}, { token: op.admin });
      expect(list.body.data?.billingRuns.edges.map((e) => e.node)).toContainEqual(
        expect.objectContaining({ period: '2024-03', status: 'completed', total: 3, done: 3 }),
      );
    });

    it('lists runs newest period first, a page at a time', async () => {
      for (const period of ['2023-08', '2023-09', '2023-10']) {
        const res = await t.gql(
          `mutation ($period: String!) { runBilling(period: $period, wait: true) { __typename } }`,
          { period },
          { token: op.admin },
        );
        expect(res.body.errors).toBeUndefined();
      }
      type Runs = {
        billingRuns: {
          totalCount: number;
          pageInfo: { hasNextPage: boolean; endCursor: string };
          edges: Array<{ node: { period: string } }>;
        };
      };
      const first = await t.gql<Runs, unknown>(BILLING_RUNS, { first: 2 }, { token: op.admin });
      const page1 = first.body.data!.billingRuns;
      expect(page1.edges.map((e) => e.node.period)).toEqual(['2024-03', '2023-10']);
      expect(page1.totalCount).toBe(4);
      const second = await t.gql<Runs, unknown>(
        BILLING_RUNS,
        { first: 2, after: page1.pageInfo.endCursor },
        { token: op.admin },
      );
      expect(second.body.data!.billingRuns.edges.map((e) => e.node.period)).toEqual(['2023-09', '2023-08']);
      expect(second.body.data!.billingRuns.pageInfo.hasNextPage).toBe(false);
    });

    it('refuses a user, over HTTP and over graphql-ws', async () => {
      expect(codeOf(await t.gql(BILLING_RUNS, {}, { token: user }))).toBe('FORBIDDEN');
      const errors = await new Promise<unknown>((resolve) => {
        t.wsClient(user).subscribe(
          { query: PROGRESS, variables: { period: '2024-03' } },
          { next: (result) => resolve(result.errors), error: resolve, complete: () => undefined },
        );
      });
      expect(JSON.stringify(errors)).toContain('FORBIDDEN');
      expect(t.server.billingRunWatchers()).toBe(0);
    });
  });
});
