import { print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import type { Client as WsClient } from 'graphql-ws';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import type { Clock } from '../src/config/clock';
import { Role } from '../src/entities/enums';
import type { BillingServer } from '../src/server';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, PayInvoiceDocument, PaymentStatusChangedDocument } from './generated/graphql';
import type { PaymentStatusChangedSubscription } from './generated/graphql';
import { ManualClock, WAIT_GUARD_MS } from './helpers/clock';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { collect, collectOpen, startTestServer, wsExecute } from './helpers/server';
import { waitForFeedCount } from './helpers/wait';

const FEED = print(PaymentStatusChangedDocument);

interface Closed {
  code: number;
  reason: string;
}

/** Waits for a condition the server reports (a count), as collectOpen does; the guard only ends a hang. */
async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_GUARD_MS;
  while (!done()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every stream on the server gone: no connection, no subscription, no status listener. */
async function allReleased(server: BillingServer): Promise<void> {
  await until('every stream to be released', () => {
    const { connections, subscriptions } = server.streams();
    return connections === 0 && subscriptions === 0 && server.statusFeeds() === 0;
  });
}

/** A graphql-ws client whose socket is open and acknowledged, and a promise of how it closes. */
async function connected(t: TestServer, token?: string): Promise<{ client: WsClient; closed: Promise<Closed> }> {
  let onClose: (event: Closed) => void = () => undefined;
  const closed = new Promise<Closed>((resolve) => (onClose = resolve));
  const client = t.wsClient(token, { onClose: ({ code, reason }) => onClose({ code, reason }) });
  await new Promise<void>((resolve, reject) => {
    client.on('connected', () => resolve());
    void closed.then((event) => reject(new Error(`closed ${event.code} ${event.reason}`)));
  });
  return { client, closed };
}

/** A bare graphql-transport-ws socket, to send what no well-behaved client would. */
function rawSocket(t: TestServer): { socket: WebSocket; opened: Promise<void>; closed: Promise<Closed> } {
  const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
  socket.on('error', () => undefined);
  const opened = new Promise<void>((resolve) => socket.once('open', () => resolve()));
  const closed = new Promise<Closed>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { socket, opened, closed };
}

interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads a text/event-stream body event by event (comments, the keep-alive pings, are skipped). */
function eventsOf(res: Response): { next(): Promise<SseEvent> } {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next() {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const lines = buffer.slice(0, end).split('\n');
          buffer = buffer.slice(end + 2);
          const event = lines
            .find((line) => line.startsWith('event:'))
            ?.slice(6)
            .trim();
          if (event) {
            const data = lines
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5).trim())
              .join('\n');
            return { event, data: data ? JSON.parse(data) : null };
          }
          continue;
        }
        const { value, done } = await reader.read();
        if (done) {
          throw new Error('the event stream ended');
        }
        buffer += decoder.decode(value, { stream: true });
      }
    },
  };
}

/** Subscribes over Server-Sent Events as a dashboard behind a WebSocket-hostile proxy would (graphql-sse). */
async function sse(
  t: TestServer,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = { accept: 'text/event-stream' },
): Promise<{ res: Response; abort: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${t.url}/graphql/stream`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...headers,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  return { res, abort: () => controller.abort() };
}

describe('bounds of the WebSocket and the event stream', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      SUBSCRIPTION_MAX_CONNECTIONS: '4',
      SUBSCRIPTION_MAX_PER_CONNECTION: '2',
      SUBSCRIPTION_MAX_PER_USER: '3',
      SUBSCRIPTION_MAX_VARIABLES_BYTES: '1024',
      WS_MAX_PAYLOAD_BYTES: '65536',
      WS_MAX_INIT_PAYLOAD_BYTES: '512',
    });
  });
  afterAll(() => t.close());
  // Every test starts and ends with nothing open: what a test leaves counts against the next one's caps.
  afterEach(async () => allReleased(t.server));

  it('closes a socket with 1009 on a message over WS_MAX_PAYLOAD_BYTES, before reading it', async () => {
    const { socket, opened, closed } = rawSocket(t);
    await opened;
    socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(70_000) } }));
    expect((await closed).code).toBe(1009);
  });

  it('closes a socket with 4400 when the connection_init payload is over WS_MAX_INIT_PAYLOAD_BYTES', async () => {
    const token = await t.token('init-big');
    const { socket, opened, closed } = rawSocket(t);
    await opened;
    socket.send(
      JSON.stringify({
        type: 'connection_init',
        payload: { authorization: `Bearer ${token}`, padding: 'x'.repeat(1000) },
      }),
    );
    expect(await closed).toEqual({
      code: 4400,
      reason: expect.stringMatching(/^connection_init payload too large: \d+ bytes, at most 512$/),
    });
  });

  it('refuses variables over SUBSCRIPTION_MAX_VARIABLES_BYTES with BAD_REQUEST; the socket goes on', async () => {
    const { client } = await connected(t, await t.token('vars-big'));
    const error = await collect(client, FEED, { invoiceId: 'x'.repeat(2000) }).failed();
    expect(error).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^Variables too large: \d+ bytes of JSON, at most 1024/),
        extensions: { code: 'BAD_REQUEST', limit: 'variables', max: 1024 },
      }),
    ]);
    expect((await wsExecute<{ me: { userId: string } }>(client, '{ me { userId } }')).data?.me.userId).toBe('vars-big');
    await client.dispose();
  });

  it('refuses a subscription over SUBSCRIPTION_MAX_PER_CONNECTION; completing one makes room', async () => {
    const { client } = await connected(t, await t.token('per-connection'));
    const first = await collectOpen(t.server, client, FEED);
    await collectOpen(t.server, client, FEED);
    const error = await collect(client, FEED).failed();
    expect(error).toEqual([
      expect.objectContaining({
        message: 'Too many subscriptions open on this connection (at most 2); complete one first',
        extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 'connection', max: 2 },
      }),
    ]);
    first.stop();
    await until('the completed subscription to be released', () => t.server.streams().subscriptions === 1);
    await collectOpen(t.server, client, FEED);
    expect(t.server.streams()).toEqual({ connections: 1, subscriptions: 2 });
    await client.dispose();
  });

  it('refuses a subscription over SUBSCRIPTION_MAX_PER_USER across sockets and the event stream', async () => {
    const token = await t.token('per-user');
    const one = await connected(t, token);
    const two = await connected(t, token);
    await collectOpen(t.server, one.client, FEED);
    await collectOpen(t.server, one.client, FEED);
    await collectOpen(t.server, two.client, FEED);
    const error = await collect(two.client, FEED).failed();
    expect(error).toEqual([
      expect.objectContaining({ extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 'user', max: 3 } }),
    ]);
    // The same cap over SSE: 429 before the stream opens.
    const refused = await sse(t, token, FEED);
    expect(refused.res.status).toBe(429);
    expect(await refused.res.json()).toEqual({
      errors: [
        {
          message: 'Too many subscriptions open for this user on this instance (at most 3); complete one first',
          extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 'user', max: 3 },
        },
      ],
    });
    // Another user is not held back.
    const other = await connected(t, await t.token('per-user-other'));
    await collectOpen(t.server, other.client, FEED);
    await Promise.all([one.client.dispose(), two.client.dispose(), other.client.dispose()]);
  });

  it('closes a socket over SUBSCRIPTION_MAX_CONNECTIONS with 1013 (try again later); a closed one makes room', async () => {
    const token = await t.token('many-sockets');
    const open = await Promise.all([1, 2, 3, 4].map(() => connected(t, token)));
    const { closed } = rawSocket(t);
    expect(await closed).toEqual({
      code: 1013,
      reason: 'Too many connections on this instance (at most 4); try again later',
    });
    // Over SSE the same cap answers 503.
    const refused = await sse(t, token, FEED);
    expect(refused.res.status).toBe(503);
    expect(await refused.res.json()).toMatchObject({ errors: [{ extensions: { code: 'TOO_MANY_CONNECTIONS' } }] });

    await open[0].client.dispose();
    await until('the closed socket to be released', () => t.server.streams().connections === 3);
    const again = await connected(t, token);
    await Promise.all([again, ...open.slice(1)].map(({ client }) => client.dispose()));
  });

  it('releases every subscription and listener when a socket closes with subscriptions open', async () => {
    const token = await t.token('leaver', Role.ADMIN);
    const { client } = await connected(t, token);
    await collectOpen(t.server, client, FEED);
    await collectOpen(t.server, client, FEED);
    expect(t.server.streams()).toEqual({ connections: 1, subscriptions: 2 });
    expect(t.server.statusFeeds()).toBe(2);
    // Dropped, not completed: what a dashboard losing its network looks like.
    await client.dispose();
    await allReleased(t.server);
  });

  it('answers the event stream route with the same refusals as POST /graphql, before the stream opens', async () => {
    const token = await t.token('sse-refusals');
    const noToken = await sse(t, undefined, FEED);
    expect(noToken.res.status).toBe(401);
    expect(await noToken.res.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });

    const notStream = await sse(t, token, FEED, undefined, { accept: 'application/json' });
    expect(notStream.res.status).toBe(406);

    const query = await sse(t, token, '{ me { userId } }');
    expect(query.res.status).toBe(400);
    expect(await query.res.json()).toMatchObject({
      errors: [{ message: expect.stringContaining('POST /graphql'), extensions: { code: 'BAD_REQUEST' } }],
    });

    const invalid = await sse(t, token, 'subscription { nope }');
    expect(invalid.res.status).toBe(400);
    expect(await invalid.res.json()).toMatchObject({
      errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }],
    });

    const big = await sse(t, token, FEED, { invoiceId: 'x'.repeat(2000) });
    expect(big.res.status).toBe(413);
    expect(await big.res.json()).toMatchObject({
      errors: [{ extensions: { code: 'BAD_REQUEST', limit: 'variables' } }],
    });
  });
});

describe('tokens expire on the socket and the stream too', () => {
  const clock = new ManualClock();
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { clock });
  });
  afterAll(() => t.close());

  it('closes the socket with 4401 when the token expires on the server clock, releasing its subscriptions', async () => {
    const token = await t.token('ws-expiring', Role.USER, { expiresIn: '1h' });
    const exp = (decodeJwt(token).exp as number) * 1000;
    const { client, closed } = await connected(t, token);
    await collectOpen(t.server, client, FEED);

    clock.set(exp - 1000);
    // Still open a second before: a query answers.
    expect((await wsExecute<{ me: { userId: string } }>(client, '{ me { userId } }')).data?.me.userId).toBe(
      'ws-expiring',
    );
    clock.set(exp + 1000);
    expect(await closed).toEqual({ code: 4401, reason: 'Token has expired' });
    await allReleased(t.server);
  });

  it('ends the event stream with UNAUTHENTICATED when the token expires, releasing its subscription', async () => {
    // Two hours: the clock already stands past the hour of the test before (tokens are minted on the real time).
    const token = await t.token('sse-expiring', Role.USER, { expiresIn: '2h' });
    const exp = (decodeJwt(token).exp as number) * 1000;
    const before = t.server.statusFeeds();
    const { res } = await sse(t, token, FEED);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await waitForFeedCount(t.server, 'the stream to be open', (count) => count > before);

    clock.set(exp + 1000);
    const events = eventsOf(res);
    expect(await events.next()).toEqual({
      event: 'next',
      data: { errors: [{ message: 'Token has expired', extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    expect((await events.next()).event).toBe('complete');
    await allReleased(t.server);
  });
});

describe('the token is checked on every operation, not only by the expiry timer', () => {
  // A clock whose sleeps end only when aborted: the expiry timer never fires, so only the check made before each
  // operation can refuse one once the token has expired.
  const manual = new ManualClock();
  const timerless: Clock = {
    now: () => manual.now(),
    sleep: (_ms, options = {}) =>
      new Promise<void>((resolve) => {
        if (options.signal?.aborted) {
          resolve();
        }
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
      }),
  };
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { clock: timerless });
  });
  afterAll(() => t.close());

  it('refuses a subscribe after the token expired: UNAUTHENTICATED, and the socket closes with 4401', async () => {
    const token = await t.token('ws-late', Role.USER, { expiresIn: '1h' });
    const { client, closed } = await connected(t, token);
    expect((await wsExecute<{ me: { userId: string } }>(client, '{ me { userId } }')).data?.me.userId).toBe('ws-late');

    manual.set((decodeJwt(token).exp as number) * 1000 + 1000);
    const feed = collect(client, FEED);
    expect(await closed).toEqual({ code: 4401, reason: 'Token has expired' });
    expect(feed.events).toEqual([]);
    expect(t.server.statusFeeds()).toBe(0);
    await allReleased(t.server);
  });
});

describe('the payment status stream over Server-Sent Events', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  it('delivers OPEN → PAID to an SSE subscriber with the Authorization header, then releases it on disconnect', async () => {
    const op = await operator(t);
    await op.record([
      { userId: 'sse-user', metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' },
    ]);
    const token = await t.token('sse-user');
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    const invoice = created.body.data?.createInvoice;
    if (invoice?.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(created.body)}`);
    }

    const before = t.server.statusFeeds();
    const { res, abort } = await sse(t, token, FEED, { invoiceId: invoice.id });
    expect(res.status).toBe(200);
    await waitForFeedCount(t.server, 'the stream to be open', (count) => count > before);
    expect(t.server.streams()).toEqual({ connections: 1, subscriptions: 1 });

    const paid = await t.gql(PayInvoiceDocument, { invoiceId: invoice.id, paymentMethodId: 'pm_card_visa' }, { token });
    expect(paid.body.data?.payInvoice).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    const event = await eventsOf(res).next();
    expect(event).toEqual({
      event: 'next',
      data: {
        data: {
          paymentStatusChanged: expect.objectContaining({
            previousStatus: 'OPEN',
            status: 'PAID',
            source: 'API',
            invoice: { id: invoice.id, status: 'PAID', isPaid: true },
          }),
        },
      },
    });
    expect((event.data as { data: PaymentStatusChangedSubscription }).data.paymentStatusChanged.status).toBe('PAID');

    abort();
    await allReleased(t.server);
  });

  it("answers another user's invoice NOT_FOUND through the graphql-sse client, as over WebSocket", async () => {
    const token = await t.token('sse-stranger');
    const client = createSseClient({
      url: `${t.url}/graphql/stream`,
      singleConnection: false,
      retryAttempts: 0,
      headers: { authorization: `Bearer ${token}` },
    });
    const results: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: FEED, variables: { invoiceId: '00000000-0000-0000-0000-000000000000' } },
        { next: (result) => void results.push(result), error: reject, complete: resolve },
      );
    });
    expect(results).toEqual([{ errors: [expect.objectContaining({ extensions: { code: 'NOT_FOUND' } })] }]);
    client.dispose();
    await allReleased(t.server);
  });

  it('serves GET with the operation in the query string, as an EventSource would ask', async () => {
    const token = await t.token('sse-get');
    const controller = new AbortController();
    const before = t.server.statusFeeds();
    const res = await fetch(`${t.url}/graphql/stream?query=${encodeURIComponent(FEED)}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    await waitForFeedCount(t.server, 'the stream to be open', (count) => count > before);
    controller.abort();
    await allReleased(t.server);
  });
});

describe('billing run progress over Server-Sent Events', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  interface Progress {
    period: string;
    status: string;
    total: number;
    pending: number;
    processing: number;
    done: number;
    failed: number;
  }
  const PROGRESS = `subscription ($period: String!) {
    billingRunProgressed(period: $period) { period status total pending processing done failed }
  }`;

  it('follows a billing run from running to completed through the graphql-sse client, as an admin dashboard would', async () => {
    const op = await operator(t);
    await op.record(
      ['sse-run-1', 'sse-run-2'].map((userId) => ({
        userId,
        metric: 'llm_input_tokens',
        quantity: '1234567',
        occurredAt: '2024-04-15T10:00:00Z',
      })),
    );
    // Every result the stream brings, and the waits on them: each result wakes them (no polling).
    const events: Progress[] = [];
    const errors: unknown[] = [];
    const waiters = new Set<() => void>();
    const wake = () => waiters.forEach((w) => w());
    const seen = (what: string, done: () => boolean): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (errors.length > 0) {
            waiters.delete(check);
            reject(new Error(`the stream failed while waiting for ${what}: ${JSON.stringify(errors)}`));
          } else if (done()) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      });
    const watchersNow = () => t.server.billingRunWatchers();
    const watchers = (what: string, done: (count: number) => boolean): Promise<void> =>
      new Promise((resolve) => {
        const check = () => done(watchersNow()) && (off(), resolve());
        const off = t.server.onBillingRunWatchersChange(check);
        check();
      });

    const client = createSseClient({
      url: `${t.url}/graphql/stream`,
      singleConnection: false,
      retryAttempts: 0,
      headers: { authorization: `Bearer ${op.admin}` },
    });
    let completed = false;
    const stop = client.subscribe<{ billingRunProgressed: Progress }>(
      { query: PROGRESS, variables: { period: '2024-04' } },
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
        complete: () => {
          completed = true;
          wake();
        },
      },
    );
    await watchers('the stream to be open', (count) => count === 1);
    expect(t.server.streams()).toEqual({ connections: 1, subscriptions: 1 });

    // Stripe holds the invoices' creation: the run is seen working on a customer before any is done.
    const hold = await t.control.holdRequests({ path: '^/v1/invoices$', method: 'POST' });
    const started = await t.gql(
      `mutation { runBilling(period: "2024-04") { __typename ... on BillingRun { status total } } }`,
      {},
      { token: op.admin },
    );
    expect(started.body.data).toEqual({ runBilling: { __typename: 'BillingRun', status: 'running', total: 2 } });
    await t.control.waitForHeld(hold.id, 1);
    await seen('the run seen working', () => events.some((e) => e.status === 'running' && e.processing > 0));
    expect(events.every((e) => e.done === 0)).toBe(true);

    await t.control.removeFault(hold.id);
    await seen('the run seen completed', () => events.some((e) => e.status === 'completed'));
    expect(events.at(-1)).toEqual({
      period: '2024-04',
      status: 'completed',
      total: 2,
      pending: 0,
      processing: 0,
      done: 2,
      failed: 0,
    });
    // Each event shows a change: an unchanged snapshot is not sent again.
    const shown = events.map((e) => JSON.stringify(e));
    expect(shown.every((e, i) => i === 0 || e !== shown[i - 1])).toBe(true);
    expect(errors).toEqual([]);
    expect(completed).toBe(false);

    stop();
    client.dispose();
    await watchers('the stream to close', (count) => count === 0);
    await allReleased(t.server);
  });
});

describe('a graceful stop with streams open', () => {
  it('ends open event streams with complete instead of waiting for them', async () => {
    const t = await startTestServer();
    const token = await t.token('sse-at-shutdown');
    const { res } = await sse(t, token, FEED);
    await waitForFeedCount(t.server, 'the stream to be open', (count) => count === 1);
    const events = eventsOf(res);
    const last = events.next();
    await t.close();
    expect((await last).event).toBe('complete');
  });
});
