import { documentedSchema, schemaProblems } from './rest/rest-harness';
import { Role } from '../src/entities/enums';
import { add, decimal, decimalToString, mul, parseDecimal } from '../src/services/shared/decimal';
import { MAX_USAGE_QUANTITY } from '../src/services/usage/record-usage.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import {
  CreateInvoiceDocument,
  InvoicesDocument,
  RecordUsageDocument,
  UsageSummaryDocument,
} from './generated/graphql';
import type { UsageEventInput } from './generated/graphql';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';

const event = (overrides: Partial<UsageEventInput> = {}): UsageEventInput => ({
  userId: 'agent-owner-1',
  metric: 'llm_input_tokens',
  quantity: '1500',
  occurredAt: '2024-01-15T10:00:00Z',
  idempotencyKey: `key-${Math.random().toString(36).slice(2)}`,
  ...overrides,
});

describe('usage ingestion', () => {
  let t: TestServer;
  let service: string;
  const count = async (where = 'true'): Promise<number> => {
    const rows = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ n: string }>>(`select count(*)::text as n from usage_records where ${where}`);
    return Number(rows[0].n);
  };
  const post = (body: unknown, token: string | null = service): Promise<Response> =>
    fetch(`${t.url}/api/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  /** A usage answer over REST without its `success` flag (checked here), to compare with the mutation's. */
  const answer = async (res: Response): Promise<unknown> => {
    const { success, ...rest } = (await res.json()) as { success: boolean };
    expect(success).toBe(res.ok);
    return rest;
  };

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    service = await t.token('platform', Role.SERVICE);
  });
  afterAll(() => t.close());

  it('stores the valid events of a mixed batch and reports each invalid one with its index', async () => {
    const before = await count();
    const res = await t.gql(
      RecordUsageDocument,
      {
        events: [
          event({ idempotencyKey: 'mixed-1' }),
          event({ idempotencyKey: 'mixed-2', metric: 'no_such_metric' }),
          event({ idempotencyKey: 'mixed-3', quantity: '-5' }),
          event({ idempotencyKey: 'mixed-4', occurredAt: 'yesterday' }),
          event({ idempotencyKey: 'mixed-5', quantity: '0.0000000000001' }),
          event({ idempotencyKey: 'mixed-1' }),
          event({ idempotencyKey: 'mixed-6', occurredAt: '2999-01-01T00:00:00Z' }),
          event({ idempotencyKey: 'mixed-7', quantity: '12.5', agentId: 'agent-9', metadata: { model: 'gpt' } }),
          event({ idempotencyKey: '', metric: 'tool_calls' }),
          event({ idempotencyKey: 'mixed-9', userId: ' agent-owner-1' }),
        ],
      },
      { token: service },
    );
    expect(res.body.errors).toBeUndefined();
    const result = res.body.data!.recordUsage;
    expect(result).toMatchObject({ accepted: 2, duplicates: 1, late: 0 });
    expect(result.rejected).toEqual([
      { index: 1, code: 'UNKNOWN_METRIC', message: 'Unknown or inactive metric "no_such_metric"' },
      { index: 2, code: 'INVALID_QUANTITY', message: expect.stringMatching(/non-negative decimal/) },
      { index: 3, code: 'INVALID_TIMESTAMP', message: expect.stringMatching(/ISO 8601/) },
      { index: 4, code: 'INVALID_QUANTITY', message: expect.stringMatching(/12 fractional digits/) },
      { index: 6, code: 'INVALID_TIMESTAMP', message: expect.stringMatching(/future/) },
      { index: 8, code: 'MISSING_FIELD', message: 'idempotencyKey is required' },
      { index: 9, code: 'INVALID_USER_ID', message: 'userId must not start or end with whitespace' },
    ]);
    expect(await count()).toBe(before + 2);
    const stored = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ quantity: string; agent_id: string | null; metadata: unknown }>>(
        `select quantity::text as quantity, agent_id, metadata from usage_records where idempotency_key = 'mixed-7'`,
      );
    expect(stored).toEqual([{ quantity: '12.500000000000', agent_id: 'agent-9', metadata: { model: 'gpt' } }]);
  });

  it('counts a resent batch as duplicates and stores nothing again', async () => {
    const batch = [event({ idempotencyKey: 'resend-1' }), event({ idempotencyKey: 'resend-2' })];
    const first = await t.gql(RecordUsageDocument, { events: batch }, { token: service });
    const before = await count();
    const again = await t.gql(RecordUsageDocument, { events: batch }, { token: service });
    expect(first.body.data?.recordUsage).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(again.body.data?.recordUsage).toMatchObject({ accepted: 0, duplicates: 2, rejected: [] });
    expect(await count()).toBe(before);
  });

  it('counts right when keys and metadata hold semicolons (the embedded database used to split such SQL)', async () => {
    const batch = [
      event({ idempotencyKey: 'semi;colon-1', metadata: { note: 'a; b; c' } }),
      event({ idempotencyKey: 'semi;colon-2', agentId: 'agent;2' }),
    ];
    const first = await t.gql(RecordUsageDocument, { events: batch }, { token: service });
    const again = await t.gql(RecordUsageDocument, { events: batch }, { token: service });
    expect(first.body.data?.recordUsage).toMatchObject({ accepted: 2, duplicates: 0, rejected: [] });
    expect(again.body.data?.recordUsage).toMatchObject({ accepted: 0, duplicates: 2, rejected: [] });
    expect(await count(`idempotency_key like 'semi;colon-%'`)).toBe(2);
  });

  it('scopes idempotency keys per customer', async () => {
    const res = await t.gql(
      RecordUsageDocument,
      {
        events: [
          event({ userId: 'tenant-a', idempotencyKey: 'shared-key' }),
          event({ userId: 'tenant-b', idempotencyKey: 'shared-key' }),
        ],
      },
      { token: service },
    );
    expect(res.body.data?.recordUsage).toMatchObject({ accepted: 2, duplicates: 0 });
  });

  it('is for the service and admin roles only', async () => {
    const user = await t.token('agent-owner-1', Role.USER);
    const res = await t.gql(RecordUsageDocument, { events: [event()] }, { token: user });
    expect(res.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const admin = await t.token('ops', Role.ADMIN);
    const ok = await t.gql(RecordUsageDocument, { events: [event()] }, { token: admin });
    expect(ok.body.data?.recordUsage.accepted).toBe(1);
  });

  it('stores a batch of 10,000 events in one call and refuses 10,001', async () => {
    const big = Array.from({ length: 10_000 }, (_, i) =>
      event({ userId: `bulk-${i % 50}`, idempotencyKey: `bulk-${i}`, quantity: String(i) }),
    );
    const res = await post(big);
    expect(res.status).toBe(200);
    expect(await answer(res)).toEqual({ accepted: 10_000, duplicates: 0, rejected: [], late: 0 });
    expect(await count("idempotency_key like 'bulk-%'")).toBe(10_000);

    const tooMany = await t.gql(RecordUsageDocument, { events: [...big, event()] }, { token: service });
    expect(tooMany.body.errors?.[0]).toMatchObject({
      message: 'A batch holds at most 10000 events (got 10001)',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  describe('input that used to be stored wrongly or break billing later', () => {
    const stored = async (where: string): Promise<Array<{ quantity: string; occurred_at: string }>> =>
      t.database.db.orm.em
        .fork()
        .getConnection()
        .execute(
          `select quantity::text as quantity, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as occurred_at
           from usage_records where ${where} order by idempotency_key, id`,
        );
    const graphqlRaw = async (body: string): Promise<{ errors?: Array<{ message: string; extensions?: unknown }> }> => {
      const res = await fetch(t.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${service}` },
        body,
      });
      return (await res.json()) as { errors?: Array<{ message: string; extensions?: unknown }> };
    };

    it('rejects dates that do not exist instead of moving them to another month (GraphQL and REST)', async () => {
      const impossible = [
        '2026-02-30T00:00:00Z',
        '2025-02-29T00:00:00Z',
        '2026-04-31T00:00:00Z',
        '2023-06-31T12:00:00+02:00',
        '2026-01-01T24:00:00Z',
        '2024-01-15T10:60:00Z',
      ];
      const batch = (prefix: string): UsageEventInput[] => [
        ...impossible.map((occurredAt, i) => event({ idempotencyKey: `${prefix}-bad-${i}`, occurredAt })),
        // Leap day of a leap year, last instant of a day and a fractional second are real.
        event({ idempotencyKey: `${prefix}-leap`, occurredAt: '2024-02-29T00:00:00Z' }),
        event({ idempotencyKey: `${prefix}-late`, occurredAt: '2024-01-31T23:59:59.999Z' }),
      ];
      const expected = {
        accepted: 2,
        duplicates: 0,
        late: 0,
        rejected: impossible.map((_, index) => ({
          index,
          code: 'INVALID_TIMESTAMP',
          message: expect.stringMatching(/not a real calendar date-time/) as unknown,
        })),
      };

      const viaGraphql = await t.gql(RecordUsageDocument, { events: batch('cal-gql') }, { token: service });
      expect(viaGraphql.body.errors).toBeUndefined();
      expect(viaGraphql.body.data!.recordUsage).toEqual(expected);
      const viaRest = await post(batch('cal-rest'));
      expect(viaRest.status).toBe(200);
      expect(await answer(viaRest)).toEqual(expected);

      expect((await stored(`idempotency_key like 'cal-%'`)).map((r) => r.occurred_at)).toEqual([
        '2024-01-31T23:59:59',
        '2024-02-29T00:00:00',
        '2024-01-31T23:59:59',
        '2024-02-29T00:00:00',
      ]);
    });

    it("rejects a timestamp without its time zone (it would be read in the server's local time)", async () => {
      const res = await post([
        event({ idempotencyKey: 'tz-none', occurredAt: '2024-01-31T23:30:00' }),
        event({ idempotencyKey: 'tz-offset', occurredAt: '2024-01-31T23:30:00-01:00' }),
      ]);
      expect(await answer(res)).toEqual({
        accepted: 1,
        duplicates: 0,
        late: 0,
        rejected: [{ index: 0, code: 'INVALID_TIMESTAMP', message: expect.stringMatching(/time zone/) }],
      });
      // -01:00 puts it in February in UTC, the billing calendar.
      expect((await stored(`idempotency_key = 'tz-offset'`)).map((r) => r.occurred_at)).toEqual([
        '2024-02-01T00:30:00',
      ]);
    });

    it('keeps the first copy of a key repeated within a batch, as separate batches do', async () => {
      const viaGraphql = await t.gql(
        RecordUsageDocument,
        {
          events: [
            event({ idempotencyKey: 'twice-gql', quantity: '1' }),
            event({ idempotencyKey: 'twice-gql', quantity: '2' }),
            event({ idempotencyKey: 'twice-gql', quantity: '3' }),
          ],
        },
        { token: service },
      );
      expect(viaGraphql.body.data?.recordUsage).toEqual({ accepted: 1, duplicates: 2, rejected: [], late: 0 });

      // A rejected first copy is not stored, so the first valid copy is the one kept.
      const viaRest = await post([
        event({ idempotencyKey: 'twice-rest', quantity: '-1' }),
        event({ idempotencyKey: 'twice-rest', quantity: '10' }),
        event({ idempotencyKey: 'twice-rest', quantity: '20' }),
      ]);
      expect(await answer(viaRest)).toEqual({
        accepted: 1,
        duplicates: 1,
        late: 0,
        rejected: [{ index: 0, code: 'INVALID_QUANTITY', message: expect.stringMatching(/non-negative/) as unknown }],
      });

      // A later batch repeating the key is a duplicate too: first write wins everywhere.
      const again = await post([event({ idempotencyKey: 'twice-gql', quantity: '4' })]);
      expect(await answer(again)).toMatchObject({ accepted: 0, duplicates: 1 });
      expect((await stored(`idempotency_key = 'twice-gql'`)).map((r) => r.quantity)).toEqual(['1.000000000000']);
      expect((await stored(`idempotency_key = 'twice-rest'`)).map((r) => r.quantity)).toEqual(['10.000000000000']);
    });

    it('refuses a JSON number quantity a float cannot carry exactly, asking for a decimal string', async () => {
      const raw = (key: string, quantity: string): string =>
        `{"userId":"agent-owner-1","metric":"llm_input_tokens","occurredAt":"2024-01-15T10:00:00Z",` +
        `"idempotencyKey":"${key}","quantity":${quantity}}`;
      const res = await post(
        `[${raw('num-big', '9007199254740993')},${raw('num-frac', '12.5')},${raw('num-exp', '1e3')},` +
          `${raw('num-ok', '9007')},${raw('num-str', '"12.5"')}]`,
      );
      expect(res.status).toBe(200);
      const mustBeString = expect.stringMatching(/send the quantity as a decimal string/) as unknown;
      expect(await answer(res)).toEqual({
        accepted: 3,
        duplicates: 0,
        late: 0,
        rejected: [
          { index: 0, code: 'INVALID_QUANTITY', message: mustBeString },
          { index: 1, code: 'INVALID_QUANTITY', message: mustBeString },
        ],
      });
      expect((await stored(`idempotency_key like 'num-%'`)).map((r) => r.quantity)).toEqual([
        '1000.000000000000',
        '9007.000000000000',
        '12.500000000000',
      ]);

      // The same number in GraphQL variables (JSON too) is refused as well rather than rounded.
      const viaVariables = await graphqlRaw(
        `{"query":"mutation($events:[UsageEventInput!]!){recordUsage(events:$events){accepted}}",` +
          `"variables":{"events":[${raw('num-var', '9007199254740993')}]}}`,
      );
      expect(viaVariables.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/send it as a decimal string/) as unknown,
        extensions: { code: 'BAD_USER_INPUT' },
      });
      expect(await stored(`idempotency_key = 'num-var'`)).toEqual([]);
    });

    it('caps a quantity at 10^12 so that what is accepted can always be summarised and invoiced', async () => {
      const userId = 'heavy-user';
      const res = await t.gql(
        RecordUsageDocument,
        {
          events: [
            event({ userId, idempotencyKey: 'max-1', quantity: '1000000000000' }),
            event({ userId, idempotencyKey: 'max-2', quantity: '1000000000000.000000000000' }),
            event({ userId, idempotencyKey: 'max-3', quantity: '999999999999999999' }),
            event({ userId, idempotencyKey: 'max-4', quantity: '999999999999999999' }),
            event({ userId, idempotencyKey: 'max-5', quantity: '1000000000000.000000000001' }),
          ],
        },
        { token: service },
      );
      const tooLarge = {
        code: 'QUANTITY_TOO_LARGE',
        message: 'quantity must be at most 1000000000000 (10^12) per event; split larger usage into several events',
      };
      expect(res.body.data?.recordUsage).toEqual({
        accepted: 2,
        duplicates: 0,
        late: 0,
        rejected: [2, 3, 4].map((index) => ({ index, ...tooLarge })),
      });
      const viaRest = await post([event({ userId, idempotencyKey: 'max-6', quantity: 1_000_000_000_001 as never })]);
      expect(await answer(viaRest)).toMatchObject({ accepted: 0, rejected: [{ index: 0, ...tooLarge }] });

      // 2 × 10^12 tokens at the catalogue's 0.000002 USD: 4,000,000 USD.
      const admin = await t.token('ops', Role.ADMIN);
      const summary = await t.gql(UsageSummaryDocument, { period: '2024-01', userId }, { token: admin });
      expect(summary.body.errors).toBeUndefined();
      expect(summary.body.data!.usageSummary.subtotal).toMatchObject({ amountMinor: 400_000_000, currency: 'usd' });
      // Our invoice carries it exactly; Stripe charges at most 999,999.99 USD in one payment and refuses the item
      // (amount_too_large, as the local Stripe does), so the invoice stays a DRAFT of ours, never payable in Stripe.
      const invoice = await t.gql(CreateInvoiceDocument, { period: '2024-01', userId }, { token: admin });
      expect(invoice.body.errors).toBeUndefined();
      expect(invoice.body.data!.createInvoice).toMatchObject({
        __typename: 'InvoiceAmountRefused',
        code: 'STRIPE_REFUSED_AMOUNT',
        stripeCode: 'amount_too_large',
        invoice: { status: 'DRAFT' },
      });
      expect((invoice.body.data!.createInvoice as { message: string }).message).toMatch(/stays a draft/);
      // The REST contract says the same, as a 422 with the reason.
      const rest = await fetch(`${t.url}/api/v1/billing/invoice/2024-01/create?user_id=${userId}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(rest.status).toBe(422);
      const refused = (await rest.json()) as Record<string, unknown>;
      expect(schemaProblems(documentedSchema('/api/v1/billing/invoice/{month}/create', 'post', 422), refused)).toEqual(
        [],
      );
      expect(refused).toMatchObject({
        error: { code: 'stripe_refused_amount', stripe_code: 'amount_too_large', status: 'draft' },
      });
      const drafts = await t.gql(InvoicesDocument, { userId, period: '2024-01' }, { token: admin });
      expect(drafts.body.data!.invoices.edges.map((e) => e.node)).toEqual([
        expect.objectContaining({ status: 'DRAFT', amount: expect.objectContaining({ amountMinor: 400_000_000 }) }),
      ]);
    });

    it('rejects per event a quantity other than 1 on COUNT and UNIQUE_COUNT metrics, which never read it', async () => {
      // tool_calls (COUNT) used to store "1800" and bill it as one call; active_agents (UNIQUE_COUNT) alike.
      const userId = 'counting-user';
      const mustBeOne = (metric: string, kind: string, counts: string, got: string) => ({
        code: 'QUANTITY_MUST_BE_ONE',
        message:
          `metric "${metric}" is a ${kind} metric: it counts ${counts} and never reads quantity, so quantity must ` +
          `be 1 (got ${got}); send one event per occurrence`,
      });
      const viaGraphql = await t.gql(
        RecordUsageDocument,
        {
          events: [
            event({ userId, idempotencyKey: 'count-gql-1800', metric: 'tool_calls', quantity: '1800' }),
            event({ userId, idempotencyKey: 'count-gql-1', metric: 'tool_calls', quantity: '1' }),
            event({ userId, idempotencyKey: 'count-gql-1.0', metric: 'tool_calls', quantity: '1.000' }),
            event({ userId, idempotencyKey: 'count-gql-0', metric: 'tool_calls', quantity: '0' }),
            event({ userId, idempotencyKey: 'count-gql-agents', metric: 'active_agents', quantity: '5', agentId: 'a' }),
            event({ userId, idempotencyKey: 'count-gql-agent', metric: 'active_agents', quantity: '1', agentId: 'b' }),
            // SUM (and MAX) metrics read the quantity: any valid one is stored.
            event({ userId, idempotencyKey: 'count-gql-sum', metric: 'llm_input_tokens', quantity: '1800' }),
          ],
        },
        { token: service },
      );
      expect(viaGraphql.body.data?.recordUsage).toEqual({
        accepted: 4,
        duplicates: 0,
        late: 0,
        rejected: [
          { index: 0, ...mustBeOne('tool_calls', 'COUNT', 'events', '1800') },
          { index: 3, ...mustBeOne('tool_calls', 'COUNT', 'events', '0') },
          { index: 4, ...mustBeOne('active_agents', 'UNIQUE_COUNT', 'distinct values', '5') },
        ],
      });

      const viaRest = await post([
        event({ userId, idempotencyKey: 'count-rest-1800', metric: 'tool_calls', quantity: '1800' }),
        event({ userId, idempotencyKey: 'count-rest-num', metric: 'tool_calls', quantity: 1800 as never }),
        event({ userId, idempotencyKey: 'count-rest-1', metric: 'tool_calls', quantity: 1 as never }),
      ]);
      expect(viaRest.status).toBe(200);
      expect(await answer(viaRest)).toEqual({
        accepted: 1,
        duplicates: 0,
        late: 0,
        rejected: [
          { index: 0, ...mustBeOne('tool_calls', 'COUNT', 'events', '1800') },
          { index: 1, ...mustBeOne('tool_calls', 'COUNT', 'events', '1800') },
        ],
      });
      // Nothing half-stored: exactly the accepted events are there.
      const keys = await t.database.db.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ key: string }>>(
          `select idempotency_key as key from usage_records where idempotency_key like 'count-%' order by 1`,
        );
      expect(keys.map((k) => k.key)).toEqual([
        'count-gql-1',
        'count-gql-1.0',
        'count-gql-agent',
        'count-gql-sum',
        'count-rest-1',
      ]);
    });

    it('leaves room for 999,999 maximum-size events per customer, metric and month (docs/pricing-and-usage.md)', () => {
      // The aggregation reads sums back as decimals of at most 18 integer digits (numeric(30,12)).
      const month = mul(parseDecimal(MAX_USAGE_QUANTITY), decimal(999_999n));
      expect(() => parseDecimal(decimalToString(month))).not.toThrow();
      expect(() => parseDecimal(decimalToString(add(month, parseDecimal(MAX_USAGE_QUANTITY))))).toThrow(
        /more than 18 integer digits/,
      );
    });
  });

  describe('POST /api/v1/usage', () => {
    it('ingests like the mutation, duplicates and rejections included', async () => {
      const body = [
        event({ idempotencyKey: 'http-1', quantity: 42 as unknown as string }),
        event({ idempotencyKey: 'http-1' }),
        { metric: 'llm_input_tokens' },
        'not an event',
      ];
      const res = await post({ events: body });
      expect(res.status).toBe(200);
      expect(await answer(res)).toEqual({
        accepted: 1,
        duplicates: 1,
        late: 0,
        rejected: [
          { index: 2, code: 'MISSING_FIELD', message: 'userId is required' },
          { index: 3, code: 'INVALID_EVENT', message: 'Each event must be an object' },
        ],
      });
    });

    it('reads userId as a string or a whole JSON number, and rejects any other number per event', async () => {
      const raw = (key: string, userId: string): string =>
        `{"userId":${userId},"metric":"llm_input_tokens","quantity":"7","occurredAt":"2024-01-15T10:00:00Z",` +
        `"idempotencyKey":"${key}"}`;
      const res = await post(
        `[${raw('uid-num', '90210')},${raw('uid-str', '"90210"')},${raw('uid-zero', '0')},` +
          `${raw('uid-frac', '90210.5')},${raw('uid-neg', '-90210')},${raw('uid-big', '9007199254740993')},` +
          `${raw('uid-exp', '1e21')},${raw('uid-bool', 'true')},${raw('uid-list', '[90210]')}]`,
      );
      expect(res.status).toBe(200);
      const invalid = {
        code: 'INVALID_USER_ID',
        message:
          'userId must be a non-empty string of at most 200 characters, or a whole JSON number from 0 to 9007199254740991',
      };
      expect(await answer(res)).toEqual({
        accepted: 3,
        duplicates: 0,
        late: 0,
        rejected: [3, 4, 5, 6, 7, 8].map((index) => ({ index, ...invalid })),
      });
      // 90210 and "90210" are one customer; nothing was stored for the refused events.
      const rows = await t.database.db.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ key: string; user: string }>>(
          `select u.idempotency_key as key, c.external_user_id as user from usage_records u
           join customers c on c.id = u.customer_id where u.idempotency_key like 'uid-%' order by 1`,
        );
      expect(rows).toEqual([
        { key: 'uid-num', user: '90210' },
        { key: 'uid-str', user: '90210' },
        { key: 'uid-zero', user: '0' },
      ]);
    });

    it('answers auth and shape errors with a status and a reason', async () => {
      expect((await post([event()], null)).status).toBe(401);
      // Without a token the body is not even read: a malformed one is still 401.
      expect((await post('[{"userId": ', null)).status).toBe(401);
      const user = await t.token('agent-owner-1', Role.USER);
      const forbidden = await post([event()], user);
      expect(forbidden.status).toBe(403);
      expect(await forbidden.json()).toEqual({
        success: false,
        error: { code: 'forbidden', message: 'This needs the service or admin role' },
      });
      const notArray = await post({ hello: 'world' });
      expect(notArray.status).toBe(400);
      expect(((await notArray.json()) as { error: { message: string } }).error.message).toMatch(/JSON array/);
      const malformed = await post('[{"userId": "secret-looking-body"');
      expect(malformed.status).toBe(400);
      const text = await malformed.text();
      expect(text).not.toMatch(/at .*\.js:\d+/);
      expect(JSON.parse(text)).toEqual({
        success: false,
        error: { code: 'invalid_json', message: 'The request body is not valid JSON' },
      });
    });
  });
});
