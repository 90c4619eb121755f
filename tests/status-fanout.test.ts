import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { createLogger } from '../src/config/logger';
import { Role } from '../src/entities/enums';
import { WAIT_GUARD_MS } from './helpers/clock';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';
import { waitForFeedCount } from './helpers/wait';
import { change, seedInvoice } from './helpers/status-changes';

/**
 * The fan-out executes an event once per distinct selection and sends every subscriber of that selection the same
 * JSON. Raw graphql-ws frames, so the text each subscriber receives can be compared byte for byte.
 */

const FULL = `subscription Full($invoiceId: ID, $userId: String, $after: ID) {
  paymentStatusChanged(invoiceId: $invoiceId, userId: $userId, after: $after) {
    changeId status previousStatus reason
    invoice { id number status amount { formatted } }
  }
}`;
const SHORT = `subscription Short { paymentStatusChanged { changeId reason } }`;
const MAYBE_INVOICE = `subscription Maybe($withInvoice: Boolean!) {
  paymentStatusChanged { reason invoice @include(if: $withInvoice) { id } }
}`;

interface Frame {
  id: string;
  type: string;
  payload?: { data?: { paymentStatusChanged: { reason: string } & Record<string, unknown> } | null; errors?: unknown };
}

/** One dashboard's socket: every frame it receives, with its raw text. */
class RawSocket {
  readonly frames: Array<{ text: string; frame: Frame }> = [];
  private waiters: Array<() => void> = [];
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const text = String(data);
      this.frames.push({ text, frame: JSON.parse(text) as Frame });
      this.waiters.splice(0).forEach((wake) => wake());
      this.listeners.forEach((wake) => wake());
    });
  }

  static async open(t: TestServer, token: string): Promise<RawSocket> {
    const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('open', () =>
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
      );
      socket.once('message', () => resolve());
    });
    return new RawSocket(socket);
  }

  /** Subscribes and resolves once the server holds the subscription (or has refused it). */
  async subscribe(t: TestServer, id: string, query: string, variables: Record<string, unknown> = {}): Promise<void> {
    const before = t.server.statusFeeds();
    this.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    // Open once the server counts it, or answered (an error frame): woken by feed counts and by frames.
    await waitForFeedCount(
      t.server,
      `subscription ${id} to open`,
      (count) => count > before || this.frames.some((f) => f.frame.id === id),
      (wake) => {
        this.listeners.add(wake);
        return () => this.listeners.delete(wake);
      },
    );
  }

  /** The `next` frames of operation `id` whose reason is `reason` (any, if none given), once `count` arrived. */
  async next(id: string, reason?: string, count = 1): Promise<Array<{ text: string; frame: Frame }>> {
    const matching = (): Array<{ text: string; frame: Frame }> =>
      this.frames.filter(
        (f) =>
          f.frame.id === id &&
          f.frame.type === 'next' &&
          (reason === undefined || f.frame.payload?.data?.paymentStatusChanged.reason === reason),
      );
    await this.until(() => matching().length >= count, `${reason ?? 'an event'} on ${id}`);
    return matching();
  }

  /** Resolves once operation `id` has completed. */
  completed(id: string): Promise<void> {
    return this.until(() => this.of(id).some((frame) => frame.type === 'complete'), `${id} to complete`);
  }

  private async until(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_GUARD_MS;
    while (!done()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WAIT_GUARD_MS);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The frames of operation `id` (any type). */
  of(id: string): Frame[] {
    return this.frames.filter((f) => f.frame.id === id).map((f) => f.frame);
  }

  close(): void {
    this.socket.close(1000);
  }
}

/** The payload's JSON text of a `next` frame: what the envelope wraps. */
function payloadText(text: string): string {
  const start = text.indexOf('"payload":') + '"payload":'.length;
  return text.slice(start, -1);
}

describe('the fan-out shares one execution per selection', () => {
  const logs: Array<Record<string, unknown>> = [];
  let t: TestServer;
  const sockets: RawSocket[] = [];
  const open = async (token: string): Promise<RawSocket> => {
    const socket = await RawSocket.open(t, token);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        String(chunk)
          .split('\n')
          .filter(Boolean)
          .forEach((line) => logs.push(JSON.parse(line) as Record<string, unknown>));
        done();
      },
    });
    t = await startTestServer({}, { logger: createLogger({ logLevel: 'info' }, sink) });
  });
  // Each test with its own subscribers only.
  afterEach(async () => {
    sockets.splice(0).forEach((socket) => socket.close());
    await waitForFeedCount(t.server, 'every feed to close', (count) => count === 0);
    expect(t.server.statusFeeds()).toBe(0);
  });
  afterAll(() => t.close());

  it('sends the same payload to subscribers of one selection, and its own to another selection', async () => {
    const invoiceId = await seedInvoice(t.database.db, 'fan-user');
    const first = await open(await t.token('fan-admin-1', Role.ADMIN));
    const second = await open(await t.token('fan-admin-2', Role.ADMIN));
    // The same selection, whatever chooses the events (everything, one invoice, one user).
    await first.subscribe(t, 'all', FULL);
    await second.subscribe(t, 'one', FULL, { invoiceId });
    await second.subscribe(t, 'user', FULL, { userId: 'fan-user' });
    // Other selections: fewer fields; a variable inside the selection, with two values.
    await first.subscribe(t, 'short', SHORT);
    await first.subscribe(t, 'with', MAYBE_INVOICE, { withInvoice: true });
    await second.subscribe(t, 'without', MAYBE_INVOICE, { withInvoice: false });

    await change(t.database.db, invoiceId, 'shared-1');

    const [all] = await first.next('all', 'shared-1');
    const [one] = await second.next('one', 'shared-1');
    const [user] = await second.next('user', 'shared-1');
    expect(payloadText(one.text)).toBe(payloadText(all.text));
    expect(payloadText(user.text)).toBe(payloadText(all.text));
    expect(all.frame.payload).toEqual({
      data: {
        paymentStatusChanged: {
          changeId: expect.any(String),
          status: 'PROCESSING',
          previousStatus: 'OPEN',
          reason: 'shared-1',
          invoice: { id: invoiceId, number: expect.any(String), status: 'PROCESSING', amount: { formatted: '$3.00' } },
        },
      },
    });
    const changeId = all.frame.payload?.data?.paymentStatusChanged.changeId;

    const [short] = await first.next('short', 'shared-1');
    expect(short.frame.payload).toEqual({ data: { paymentStatusChanged: { changeId, reason: 'shared-1' } } });
    const [withInvoice] = await first.next('with', 'shared-1');
    const [without] = await second.next('without', 'shared-1');
    expect(withInvoice.frame.payload).toEqual({
      data: { paymentStatusChanged: { reason: 'shared-1', invoice: { id: invoiceId } } },
    });
    expect(without.frame.payload).toEqual({ data: { paymentStatusChanged: { reason: 'shared-1' } } });
    // Each operation's own envelope around it.
    expect(one.text.startsWith('{"id":"one","type":"next","payload":')).toBe(true);
  });

  it("never sends a user another user's change, though both users share one selection", async () => {
    const own = await seedInvoice(t.database.db, 'fan-own');
    const other = await seedInvoice(t.database.db, 'fan-other');
    const admin = await open(await t.token('fan-admin-3', Role.ADMIN));
    const user = await open(await t.token('fan-own'));
    const otherUser = await open(await t.token('fan-other'));
    await admin.subscribe(t, 'admin', FULL);
    await user.subscribe(t, 'mine', FULL);
    await otherUser.subscribe(t, 'theirs-own', FULL);
    await user.subscribe(t, 'theirs', FULL, { invoiceId: other });
    await user.completed('theirs');
    expect(user.of('theirs')).toEqual([
      {
        id: 'theirs',
        type: 'next',
        payload: { errors: [expect.objectContaining({ extensions: { code: 'NOT_FOUND' } })] },
      },
      { id: 'theirs', type: 'complete' },
    ]);

    await change(t.database.db, other, 'not-yours');
    await change(t.database.db, own, 'yours');

    await admin.next('admin', 'not-yours');
    await otherUser.next('theirs-own', 'not-yours');
    await admin.next('admin', 'yours');
    const [mine] = await user.next('mine', 'yours');
    // Changes reach a subscriber in commit order: had the other user's come through, it would be here first.
    expect(user.of('mine')).toEqual([mine.frame]);
    expect(user.frames.some((f) => f.text.includes('not-yours'))).toBe(false);
  });

  it('formats an event that fails by the shared rules for each subscriber, and logs it once per selection', async () => {
    // An amount no JSON number carries exactly: the invoice's mapping refuses it (an unexpected error).
    const invoiceId = await seedInvoice(t.database.db, 'fan-huge', '90071992547409930');
    const first = await open(await t.token('fan-admin-4', Role.ADMIN));
    const second = await open(await t.token('fan-admin-5', Role.ADMIN));
    await first.subscribe(t, 'a', FULL, { invoiceId });
    await second.subscribe(t, 'b', FULL, { invoiceId });
    await second.subscribe(t, 'c', SHORT);
    const logged = logs.length;

    await change(t.database.db, invoiceId, 'too-large');

    // The first event of these two subscriptions (the invoice had no change before).
    const [a] = await first.next('a');
    const [b] = await second.next('b');
    const expected = {
      data: null,
      errors: [
        {
          message: 'Internal server error',
          locations: [expect.any(Object)],
          path: ['paymentStatusChanged'],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ],
    };
    expect(a.frame.payload).toEqual(expected);
    expect(payloadText(b.text)).toBe(payloadText(a.text));
    expect(a.text).not.toContain('safe integer');
    // Another selection: its own execution, its own error (its own locations), formatted the same way.
    const [c] = await second.next('c');
    expect(c.frame.payload).toEqual({
      ...expected,
      errors: [{ ...expected.errors[0], locations: [{ line: 1, column: 22 }] }],
    });
    // Logged once per selection, not once per subscriber.
    const unexpected = logs.slice(logged).filter((line) => line.msg === 'unexpected error in GraphQL operation');
    expect(unexpected).toHaveLength(2);
  });
});
