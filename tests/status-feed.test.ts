import { print } from 'graphql';
import { Client } from 'pg';
import { Role } from '../src/entities/enums';
import { STATUS_CHANNEL } from '../src/services/invoicing/invoice-status';
import { openDatabase } from '../src/entities/orm';
import { createServer } from '../src/server';
import type { BillingServer } from '../src/server';
import { PaymentStatusChangedDocument } from './generated/graphql';
import type { PaymentStatusChangedSubscription } from './generated/graphql';
import { ManualClock, WAIT_GUARD_MS } from './helpers/clock';
import { testServerUrl } from './helpers/database';
import type { Collected, TestServer } from './helpers/server';
import { collectOpen, startTestServer } from './helpers/server';
import { createClient } from 'graphql-ws';
import type { Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { waitForFeedCount } from './helpers/wait';
import { change, seedInvoice } from './helpers/status-changes';

type Event = PaymentStatusChangedSubscription['paymentStatusChanged'];
const FEED = print(PaymentStatusChangedDocument);
const onPostgres = testServerUrl() ? it : it.skip;

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + WAIT_GUARD_MS;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function readiness(url: string): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { checks: Record<string, string> };
  return { status: res.status, checks: body.checks };
}

function wsClient(url: string, token: string): WsClient {
  return createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
}

/** Every change once, in the order committed. */
function expectInOrderOnce(events: Event[], reasons: string[]): void {
  expect(events.map((e) => e.reason)).toEqual(reasons);
  const ids = events.map((e) => BigInt(e.changeId));
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
}

describe('the live payment status feed', () => {
  let t: TestServer;
  let clock: ManualClock;
  const sql: string[] = [];
  beforeAll(async () => {
    clock = new ManualClock();
    // 181 feeds share two connections below: above the default caps of 50 per connection and 200 per user.
    t = await startTestServer(
      { SUBSCRIPTION_MAX_PER_CONNECTION: '500', SUBSCRIPTION_MAX_PER_USER: '500' },
      { clock, queryLog: (line) => sql.push(line) },
    );
  });
  afterAll(() => t.close());

  it('reports the listener on /readyz', async () => {
    expect(await readiness(t.url)).toEqual({
      status: 200,
      checks: { database: 'ok', migrations: 'ok', statusFeed: 'ok' },
    });
  });

  it('reads a change once whatever the number of subscribers', async () => {
    const invoiceId = await seedInvoice(t.database.db, 'count-user');
    const admin = t.wsClient(await t.token('count-admin', Role.ADMIN));
    const user = t.wsClient(await t.token('count-user'));
    // Statements from the first change's commit to the last delivery of the second, with `subscribers` open feeds.
    // Two changes (to PROCESSING and back to PAYMENT_FAILED, only the second an outgoing webhook event), so both
    // measures write the same statements.
    const measure = async (feeds: Array<Collected<PaymentStatusChangedSubscription>>, reason: string) => {
      const before = sql.length;
      for (const step of [`${reason} (1)`, `${reason} (2)`]) {
        await change(t.database.db, invoiceId, step);
        await Promise.all(
          feeds.map((feed) => until(step, () => feed.events.some((e) => e.paymentStatusChanged.reason === step))),
        );
      }
      const window = sql.slice(before);
      return { all: window.length, feed: window.filter((line) => line.includes('status-feed')).length };
    };
    const first = [await collectOpen<PaymentStatusChangedSubscription>(t.server, admin, FEED, {})];
    const one = await measure(first, 'one subscriber');
    const many = [...first];
    for (let i = 0; i < 60; i += 1) {
      many.push(await collectOpen<PaymentStatusChangedSubscription>(t.server, admin, FEED, {}));
      many.push(await collectOpen<PaymentStatusChangedSubscription>(t.server, user, FEED, { invoiceId }));
      many.push(await collectOpen<PaymentStatusChangedSubscription>(t.server, user, FEED, {}));
    }
    const manyCost = await measure(many, 'many subscribers');
    // Per change, the change rows, then the invoice with its lines and history (the one invoice read path): two reads,
    // for 1 subscriber or 181.
    expect(one.feed).toBe(4);
    expect(manyCost).toEqual(one);
    many.forEach((feed) => feed.stop());
    await waitForFeedCount(t.server, 'the feeds to close', (count) => count === 0);
  });

  it('resumes after the last change a client saw: the missed ones first, then live, none twice', async () => {
    const own = await seedInvoice(t.database.db, 'resume-user');
    const other = await seedInvoice(t.database.db, 'resume-other');
    const token = await t.token('resume-user');
    const client = t.wsClient(token);
    const feed = await collectOpen<PaymentStatusChangedSubscription>(t.server, client, FEED, {});
    await change(t.database.db, own, 'r1');
    await change(t.database.db, own, 'r2');
    const [, seen] = await feed.waitFor(2);
    feed.stop();
    await waitForFeedCount(t.server, 'the feed to close', (count) => count === 0);
    // Offline: two changes of its own invoice and one of another user's.
    await change(t.database.db, own, 'r3');
    await change(t.database.db, other, 'not yours');
    await change(t.database.db, own, 'r4');
    const resumed = await collectOpen<PaymentStatusChangedSubscription>(t.server, client, FEED, {
      after: seen.paymentStatusChanged.changeId,
    });
    await change(t.database.db, own, 'r5');
    const events = (await resumed.waitFor(3)).map((e) => e.paymentStatusChanged);
    expectInOrderOnce(events, ['r3', 'r4', 'r5']);
    // The change as it was; the invoice as it is now (read afresh, as for a live change).
    expect(events[0]).toMatchObject({ status: 'PROCESSING', previousStatus: 'PAYMENT_FAILED', invoice: { id: own } });
    // On one invoice, with the same rule: nothing of another user's.
    const onOne = await collectOpen<PaymentStatusChangedSubscription>(t.server, client, FEED, {
      invoiceId: own,
      after: '0',
    });
    expect((await onOne.waitFor(5)).map((e) => e.paymentStatusChanged.reason)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    const bad = await collectOpen(t.server, client, FEED, { after: 'yesterday' });
    expect(JSON.stringify(await bad.failed())).toContain('BAD_USER_INPUT');
    expect(resumed.events).toHaveLength(3);
    resumed.stop();
    onOne.stop();
  });

  onPostgres('reconnects after its LISTEN connection is killed and delivers every change once, in order', async () => {
    const invoiceId = await seedInvoice(t.database.db, 'blip-user');
    const client = t.wsClient(await t.token('blip-admin', Role.ADMIN));
    const feed = await collectOpen<PaymentStatusChangedSubscription>(t.server, client, FEED, {});
    const reasons = Array.from({ length: 30 }, (_, i) => `c${i + 1}`);
    let made = 0;
    const producer = (async () => {
      for (const reason of reasons) {
        await change(t.database.db, invoiceId, reason);
        made += 1;
      }
    })();
    await feed.waitFor(5);
    const killer = new Client({ connectionString: t.database.url });
    await killer.connect();
    try {
      const { rows } = await killer.query(
        `select pg_terminate_backend(pid) as killed from pg_stat_activity where datname = current_database() and query = 'LISTEN ${STATUS_CHANNEL}'`,
      );
      expect(rows).toEqual([{ killed: true }]);
    } finally {
      await killer.end();
    }
    await until(
      'the listener to be reported down',
      async () => (await readiness(t.url)).checks.statusFeed === 'reconnecting',
    );
    expect((await readiness(t.url)).status).toBe(503);
    // Changes go on committing while nobody listens; then the backoff's time passes.
    await until('more changes', () => made >= 15);
    clock.advance(60_000);
    await until('the listener to be back', async () => (await readiness(t.url)).checks.statusFeed === 'ok');
    await producer;
    const events = (await feed.waitFor(reasons.length)).map((e) => e.paymentStatusChanged);
    expectInOrderOnce(events, reasons);
    expect(feed.events).toHaveLength(reasons.length);
    feed.stop();
  });

  onPostgres('delivers every change to subscribers on either of two instances on one database', async () => {
    const db2 = await openDatabase({ databaseUrl: t.database.url });
    let second: BillingServer | undefined;
    const clients: WsClient[] = [];
    try {
      second = await createServer({ config: t.config, db: db2 });
      const url2 = await second.listen(0, '127.0.0.1');
      const token = await t.token('two-admin', Role.ADMIN);
      clients.push(wsClient(t.url, token), wsClient(url2, token));
      const invoices = [await seedInvoice(t.database.db, 'two-a'), await seedInvoice(t.database.db, 'two-b')];
      const feeds = [
        await collectOpen<PaymentStatusChangedSubscription>(t.server, clients[0], FEED, {}),
        await collectOpen<PaymentStatusChangedSubscription>(second, clients[1], FEED, {}),
      ];
      const reasons: string[] = [];
      for (let i = 0; i < 10; i += 1) {
        // Made through one instance's database connection, then the other's.
        reasons.push(`two-${i}`);
        await change(i % 2 ? db2 : t.database.db, invoices[i % 2], `two-${i}`);
      }
      for (const feed of feeds) {
        expectInOrderOnce(
          (await feed.waitFor(10)).map((e) => e.paymentStatusChanged),
          reasons,
        );
        feed.stop();
      }
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
      await second?.close();
      await db2.close();
    }
  });
});
