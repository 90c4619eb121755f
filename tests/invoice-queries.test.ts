import { print } from 'graphql';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { createServer } from '../src/server';
import { InvoiceDocument, InvoicesDocument, PaymentStatusChangedDocument } from './generated/graphql';
import type { InvoicesQuery, InvoicesQueryVariables, PaymentStatusChangedSubscription } from './generated/graphql';
import { testServerUrl } from './helpers/database';
import type { TestServer } from './helpers/server';
import { collectOpen, startTestServer } from './helpers/server';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { CancelInvoiceDocument } from './generated/graphql';

/** Invoices written straight into the database: this suite is about reading them, not creating them. */
async function seedInvoices(t: TestServer, count: number): Promise<string[]> {
  const em = t.database.db.orm.em.fork();
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const user = `reader-${String(i).padStart(3, '0')}`;
    const [{ id: customerId }] = await em.execute<Array<{ id: string }>>(
      `insert into customers (id, external_user_id) values (gen_random_uuid(), ?) returning id`,
      [user],
    );
    const [{ id }] = await em.execute<Array<{ id: string }>>(
      `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency, total_minor,
                             subtotal_minor, created_at)
       values (gen_random_uuid(), ?, ?, '2024-01', '2024-01-01', '2024-02-01', 'OPEN', 'usd', 300, 300,
               now() - (? || ' seconds')::interval)
       returning id`,
      [`AH-2024-01-${String(i + 1).padStart(6, '0')}-20240201`, customerId, String(count - i)],
    );
    for (const position of [0, 1]) {
      await em.execute(
        `insert into invoice_lines (id, invoice_id, position, kind, description, quantity, amount_minor, currency)
         values (gen_random_uuid(), ?, ?, 'usage', 'Tokens', '100', 150, 'usd')`,
        [id, position],
      );
    }
    await em.execute(
      `insert into invoice_status_changes (invoice_id, from_status, to_status, source) values
         (?, null, 'DRAFT', 'API'), (?, 'DRAFT', 'OPEN', 'API')`,
      [id, id],
    );
    ids.push(id);
  }
  return ids;
}

describe('invoice queries', () => {
  // Statements on the invoice tables, as the ORM's query log sees them: entity queries and the plain-SQL reads
  // (pooledQuery) alike. The webhook worker polls its own table meanwhile and is not counted.
  const statements: string[] = [];
  const invoiceTables =
    /\b(invoices|invoice_lines|invoice_status_changes|customers|billable_metrics|dunning_schedules)\b/;
  let t: TestServer;
  let admin: string;
  let ids: string[];
  beforeAll(async () => {
    t = await startTestServer({}, { queryLog: (sql) => invoiceTables.test(sql) && statements.push(sql) });
    admin = await t.token('root', Role.ADMIN);
    ids = await seedInvoices(t, 60);
  });
  afterAll(() => t.close());

  /** The statements `work` sends. */
  async function counted(work: () => Promise<void>): Promise<string[]> {
    const before = statements.length;
    await work();
    return statements.slice(before);
  }

  it('costs the same SQL statements for a page of 5 and a page of 50 invoices with lines and history', async () => {
    const page = (first: number) =>
      counted(async () => {
        const res = await t.gql(InvoicesDocument, { first }, { token: admin });
        expect(res.body.errors).toBeUndefined();
        expect(res.body.data?.invoices.edges).toHaveLength(first);
        for (const edge of res.body.data?.invoices.edges ?? []) {
          expect(edge.node.lines).toHaveLength(2);
          expect(edge.node.statusHistory.map((change) => change.to)).toEqual(['DRAFT', 'OPEN']);
        }
      });
    const small = await page(5);
    const large = await page(50);
    // The count and the page (lines and history come with it): nothing per invoice.
    expect(small).toHaveLength(2);
    expect(large).toHaveLength(small.length);
  });

  it('reads the dunning of a page of invoices in one statement, for 5 invoices as for 50', async () => {
    // Every invoice in dunning, on its second step.
    await t.database.db.orm.em.fork().execute(
      `insert into dunning_schedules (id, invoice_id, state, started_at, step, next_attempt_at, created_at, updated_at)
       select gen_random_uuid(), id, 'ACTIVE', '2024-02-10', 1, '2024-02-13', now(), now() from invoices`,
    );
    const query = `query($first: Int) { invoices(first: $first) { edges { node { id dunning { step state } } } } }`;
    const page = (first: number) =>
      counted(async () => {
        const res = await t.gql<{ invoices: { edges: Array<{ node: { dunning: unknown } }> } }, { first: number }>(
          query,
          { first },
          { token: admin },
        );
        expect(res.body.errors).toBeUndefined();
        expect(res.body.data!.invoices.edges.map((e) => e.node.dunning)).toEqual(
          Array.from({ length: first }, () => ({ step: 1, state: 'ACTIVE' })),
        );
      });
    const small = await page(5);
    const large = await page(50);
    // The count, the page, and one read of the page's dunning.
    expect(small).toHaveLength(3);
    expect(large).toHaveLength(small.length);
    expect(large.filter((sql) => sql.includes('dunning_schedules'))).toHaveLength(1);
  });

  it('reads one invoice in one SQL statement, and a REST page like a GraphQL one', async () => {
    const one = await counted(async () => {
      const res = await t.gql(InvoiceDocument, { id: ids[0] }, { token: admin });
      expect(res.body.data?.invoice).toMatchObject({ id: ids[0], lines: [{ quantity: '100' }, { quantity: '100' }] });
    });
    expect(one).toHaveLength(1);
    const rest = (limit: number) =>
      counted(async () => {
        const res = await fetch(`${t.url}/api/v1/billing/invoices?limit=${limit}`, {
          headers: { authorization: `Bearer ${admin}` },
        });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { invoices: unknown[] }).invoices).toHaveLength(limit);
      });
    expect(await rest(5)).toHaveLength(2);
    expect(await rest(50)).toHaveLength(2);
  });

  it('pages newest first with cursors and a total count', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const res: Awaited<ReturnType<typeof t.gql<InvoicesQuery, InvoicesQueryVariables>>> = await t.gql(
        InvoicesDocument,
        { first: 25, after, period: '2024-01' },
        { token: admin },
      );
      const connection: InvoicesQuery['invoices'] = res.body.data!.invoices;
      expect(connection.totalCount).toBe(60);
      seen.push(...connection.edges.map((e) => e.node.id));
      if (!connection.pageInfo.hasNextPage) {
        break;
      }
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());
    const bad = await t.gql(InvoicesDocument, { after: 'not-a-cursor' }, { token: admin });
    expect(bad.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const tooMany = await t.gql(InvoicesDocument, { first: 500 }, { token: admin });
    expect(tooMany.body.errors?.[0].message).toBe('first must be between 1 and 100');
  });

  it('answers a query word for word the same once it is compiled (from its second run), errors included', async () => {
    // Each query text is new to the server: its first answer comes from graphql-js, the next ones from graphql-jit.
    const fragments = `query Fragments($withLines: Boolean!, $first: Int) {
      invoices(first: $first, period: "2024-01") {
        totalCount
        edges { cursor node { ...Head lines @include(if: $withLines) { id quantity amount { formatted } }
                              history: statusHistory @skip(if: $withLines) { to source occurredAt } } }
      }
      me { __typename }
    }
    fragment Head on Invoice { __typename id number isPaid amountRemaining { amountMinor amount } createdAt paidAt }`;
    const cases: Array<[string, Record<string, unknown>, string | null]> = [
      [`${print(InvoicesDocument)} # parity: page`, { first: 50 }, admin],
      [fragments, { withLines: true, first: 4 }, admin],
      [fragments, { withLines: false }, admin],
      [`${print(InvoiceDocument)} # parity: not found`, { id: '00000000-0000-4000-8000-000000000000' }, admin],
      [`${print(InvoicesDocument)} # parity: bad cursor`, { after: 'not-a-cursor' }, admin],
      [`${print(InvoicesDocument)} # parity: bad variable`, { first: 'many' }, admin],
      [`${print(InvoicesDocument)} # parity: no token`, { first: 2 }, null],
    ];
    for (const [query, variables, token] of cases) {
      const answers = [];
      for (let run = 0; run < 3; run += 1) {
        answers.push(await t.gql(query, variables, { token }));
      }
      expect(answers[0].body.data ?? answers[0].body.errors).toBeDefined();
      // As text: the same fields in the same order, the same errors with the same codes, locations and paths.
      const [first, ...later] = answers.map((answer) => JSON.stringify(answer));
      expect(later).toEqual([first, first]);
    }
  });

  it('filters by status and lets a user list only their own', async () => {
    const user = await t.token('reader-007');
    const own = await t.gql(InvoicesDocument, {}, { token: user });
    expect(own.body.data?.invoices.edges.map((e) => e.node.userId)).toEqual(['reader-007']);
    const paid = await t.gql(InvoicesDocument, { status: 'PAID' }, { token: admin });
    expect(paid.body.data?.invoices.totalCount).toBe(0);
  });

  const onPostgres = testServerUrl() ? it : it.skip;
  onPostgres('delivers a change made through one server instance to a subscriber on another', async () => {
    // A second instance: its own ORM and connection pool on the same database, its own LISTEN connection.
    const db2 = await openDatabase({ databaseUrl: t.database.url });
    await migrate(db2.orm);
    const second = await createServer({ config: t.config, db: db2 });
    const url2 = await second.listen(0, '127.0.0.1');
    const token = await t.token('reader-001');
    const client = createClient({
      url: `${url2.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    try {
      const feed = await collectOpen<PaymentStatusChangedSubscription>(
        second,
        client,
        print(PaymentStatusChangedDocument),
        {},
      );
      const res = await t.gql(CancelInvoiceDocument, { invoiceId: ids[1], reason: 'cross-instance' }, { token });
      expect(res.body.data?.cancelInvoice).toMatchObject({ __typename: 'Invoice', status: 'VOID' });
      const [event] = await feed.waitFor(1);
      expect(event.paymentStatusChanged).toMatchObject({
        previousStatus: 'OPEN',
        status: 'VOID',
        reason: 'cross-instance',
        invoice: { id: ids[1] },
      });
      feed.stop();
    } finally {
      await client.dispose();
      await second.close();
      await db2.close();
    }
  });
});
