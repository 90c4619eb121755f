import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Env } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { openDatabase } from '../src/entities/orm';
import type { Database } from '../src/entities/orm';
import { createServer } from '../src/server';
import type { BillingServer } from '../src/server';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { gatewayFromConfig } from '../src/stripe/gateway-from-config';
import { testServerUrl } from './helpers/database';
import type { TestDatabase } from './helpers/database';
import { startProxiedServer, startTestServer } from './helpers/server';
import type { ProxiedServer } from './helpers/server';
import type { TestServer } from './helpers/server';
import type { TcpProxy } from './helpers/tcp-proxy';
import { Wakeups, waitForEvent } from './helpers/wait';

/**
 * `USAGE_INGEST=jetstream` against the NATS server of this machine (127.0.0.1:4222, started by .ci/run): a batch is
 * answered once JetStream holds it and written to the database by the instances' shared consumer. Each test uses a
 * stream, subject and consumer of its own (deleted afterwards), so parallel test files never share one.
 */
const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const streams: string[] = [];

function jetstreamEnv(): Env {
  const id = randomBytes(5).toString('hex');
  const stream = `TEST_USAGE_${id}`;
  streams.push(stream);
  return {
    USAGE_INGEST: 'jetstream',
    NATS_URL,
    USAGE_JETSTREAM_STREAM: stream,
    USAGE_JETSTREAM_SUBJECT: `test.usage.${id}`,
    USAGE_JETSTREAM_CONSUMER: `writer-${id}`,
    USAGE_JETSTREAM_RETRY_MS: '20',
  };
}

afterAll(async () => {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  await Promise.all(streams.map((stream) => jsm.streams.delete(stream).catch(() => false)));
  await nc.close();
});

/** What a server's usage writer has done so far, counted from its first write on. */
function tally(...servers: BillingServer[]): {
  stored: number;
  deadLettered: number;
  failures: number;
  wakeups: Wakeups;
} {
  const counts = { stored: 0, deadLettered: 0, failures: 0, wakeups: new Wakeups() };
  for (const server of servers) {
    server.onUsageWrite((outcome) => {
      if (outcome.ok) {
        counts.stored += outcome.accepted;
        counts.deadLettered += outcome.deadLettered;
      } else {
        counts.failures += 1;
      }
      counts.wakeups.wake();
    });
  }
  return counts;
}

const untilStored = (counts: ReturnType<typeof tally>, n: number): Promise<void> =>
  waitForEvent(
    () => `${n} events written (so far ${counts.stored})`,
    () => counts.stored >= n,
    counts.wakeups.subscribe,
  );

function events(prefix: string, count: number, user = `${prefix}-user`): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => ({
    userId: user,
    metric: 'llm_input_tokens',
    quantity: String(i + 1),
    occurredAt: '2024-01-15T10:00:00Z',
    idempotencyKey: `${prefix}-${i}`,
  }));
}

interface UsageAnswer {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; code: string }>;
}

async function postUsage(url: string, token: string, body: unknown): Promise<{ status: number; body: UsageAnswer }> {
  const res = await fetch(`${url}/api/v1/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as UsageAnswer };
}

async function storedCount(db: Database, prefix: string): Promise<{ events: number; quantity: string }> {
  const [row] = await db.orm.em.fork().execute<Array<{ events: number; quantity: string }>>(
    `select count(*)::int as events, coalesce(sum(quantity), 0)::text as quantity
       from usage_records where idempotency_key like ?`,
    [`${prefix}-%`],
  );
  return { events: Number(row.events), quantity: row.quantity };
}

describe('usage intake through JetStream', () => {
  let t: TestServer;
  let token: string;
  let counts: ReturnType<typeof tally>;

  beforeAll(async () => {
    t = await startTestServer(jetstreamEnv());
    counts = tally(t.server);
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    token = await t.token('platform', Role.SERVICE);
  });
  afterAll(() => t.close());

  it('answers once queued, drops a repeated publish in the stream and stores each event once', async () => {
    const batch = events('dup', 5);
    const first = await postUsage(t.url, token, batch);
    expect(first).toMatchObject({ status: 200, body: { accepted: 5, duplicates: 0, rejected: [] } });
    // The client retries the whole batch (it never saw the answer), with one event repeated inside it too.
    const again = await postUsage(t.url, token, [...batch, batch[0]]);
    expect(again).toMatchObject({ status: 200, body: { accepted: 0, duplicates: 6, rejected: [] } });
    // The GraphQL mutation shares the intake: a new event and a repeat.
    const gql = await t.gql(
      'mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted duplicates } }',
      { e: [...events('dup', 6).slice(5), batch[1]] },
      { token },
    );
    expect(gql.body.data).toEqual({ recordUsage: { accepted: 1, duplicates: 1 } });

    await untilStored(counts, 6);
    expect(await storedCount(t.database.db, 'dup')).toEqual({ events: 6, quantity: '21.000000000000' });
  });

  it('refuses what it can judge before queueing: shape, size, role and a metric the catalogue does not hold', async () => {
    const bad = await postUsage(t.url, token, [
      { ...events('bad', 1)[0], metric: 'no_such_metric' },
      { ...events('bad', 2)[1], quantity: '-1' },
      { ...events('bad', 3)[2], occurredAt: '2024-01-15T10:00:00' },
    ]);
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ accepted: 0, duplicates: 0 });
    expect(bad.body.rejected.map((r: { code: string }) => r.code)).toEqual([
      'UNKNOWN_METRIC',
      'INVALID_QUANTITY',
      'INVALID_TIMESTAMP',
    ]);
    expect((await postUsage(t.url, token, events('big', 10_001))).status).toBe(400);
    const user = await t.token('someone', Role.USER);
    expect((await postUsage(t.url, user, events('user', 1))).status).toBe(403);
  });
});

describe('two instances sharing the usage stream', () => {
  let t: TestServer;
  let second: BillingServer;
  let secondDb: Database | undefined;
  let secondUrl: string;
  let token: string;

  beforeAll(async () => {
    const env = jetstreamEnv();
    t = await startTestServer(env);
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    // On PostgreSQL the second instance has a pool of its own; the embedded database is one process's.
    secondDb = t.database.url ? await openDatabase({ databaseUrl: t.database.url, poolMax: 3 }) : undefined;
    second = await createServer({
      config: t.config,
      db: secondDb ?? t.database.db,
      gateway: gatewayFromConfig(t.config),
    });
    secondUrl = await second.listen(0, '127.0.0.1');
    token = await t.token('platform', Role.SERVICE);
  });
  afterAll(async () => {
    await second.close();
    await secondDb?.close();
    await t.close();
  });

  it('stores every event once whichever instance accepted it and whichever wrote it', async () => {
    const counts = tally(t.server, second);
    const all = events('pair', 2_000);
    const answers = await Promise.all(
      [0, 1, 2, 3].map((i) => postUsage(i % 2 === 0 ? t.url : secondUrl, token, all.slice(i * 500, i * 500 + 500))),
    );
    // The same events again through the other instance: the stream drops them.
    const repeats = await Promise.all(
      [0, 1, 2, 3].map((i) => postUsage(i % 2 === 0 ? secondUrl : t.url, token, all.slice(i * 500, i * 500 + 500))),
    );
    expect(answers.map((a) => a.body.accepted)).toEqual([500, 500, 500, 500]);
    expect(repeats.map((a) => a.body.duplicates)).toEqual([500, 500, 500, 500]);

    await untilStored(counts, 2_000);
    expect(counts.stored).toBe(2_000);
    expect(await storedCount(t.database.db, 'pair')).toEqual({ events: 2_000, quantity: '2001000.000000000000' });
  });
});

(testServerUrl() ? describe : describe.skip)('a PostgreSQL outage in JetStream mode (PostgreSQL only)', () => {
  let t: ProxiedServer;
  let database: TestDatabase;
  let proxy: TcpProxy;
  let server: BillingServer;
  let url: string;
  let token: string;

  beforeAll(async () => {
    t = await startProxiedServer(jetstreamEnv());
    ({ database, proxy, server, url, serviceToken: token } = t);
  });
  afterAll(() => t.close());

  it('accepts a batch while PostgreSQL is unreachable and stores it once, duplicates included, when it returns', async () => {
    const counts = tally(server);
    // The intake has read the catalogue once while the database was there.
    expect((await postUsage(url, token, events('warm', 1))).body.accepted).toBe(1);
    await untilStored(counts, 1);

    proxy.cut();
    const batch = events('outage', 300);
    // A metric code the intake has never seen cannot be checked without the catalogue: accepted, judged on writing.
    const ghost = { ...events('ghost', 1)[0], metric: 'metric_created_during_the_outage' };
    const accepted = await postUsage(url, token, [...batch, batch[0], batch[1], ghost]);
    expect(accepted).toMatchObject({ status: 200, body: { accepted: 301, duplicates: 2, rejected: [] } });
    // A client that retried the batch during the outage: the stream drops it.
    const retried = await postUsage(url, token, batch);
    expect(retried).toMatchObject({ status: 200, body: { accepted: 0, duplicates: 300 } });
    // The writer has tried and failed while the database was away…
    await waitForEvent('a failed write during the outage', () => counts.failures > 0, counts.wakeups.subscribe);
    expect(await storedCount(database.db, 'outage')).toEqual({ events: 0, quantity: '0' });

    // …and stores every event once after it returns.
    proxy.restore();
    await untilStored(counts, 301);
    expect(await storedCount(database.db, 'outage')).toEqual({ events: 300, quantity: '45150.000000000000' });
    // The event of an unknown metric is kept as a dead letter with the reason, not dropped.
    await waitForEvent('the dead letter', () => counts.deadLettered === 1, counts.wakeups.subscribe);
    const letters = await database.db.orm.em
      .fork()
      .execute<Array<{ code: string; payload: string }>>('select code, payload from usage_dead_letters');
    expect(letters).toHaveLength(1);
    expect(letters[0].code).toBe('UNKNOWN_METRIC');
    expect(JSON.parse(letters[0].payload)).toMatchObject({ idempotencyKey: 'ghost-0' });
  });
});
