import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type Stripe from 'stripe';
import { createLogger } from '../../src/config/logger';
import type { AppConfig } from '../../src/config/config';
import { createWebhookComponents } from '../../src/webhooks';
import type { TestServer } from '../helpers/server';
import { TEST_WEBHOOK_SECRET, startTestServer } from '../helpers/server';
import {
  countEvents,
  findEvent,
  nowSeconds,
  postWebhook,
  settled,
  stripeEvent,
  stripeId,
  stripeInvoice,
} from './fixtures';

describe('POST /api/v1/webhooks/stripe: verify, store, acknowledge', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  const anEvent = () => stripeEvent('invoice.updated', stripeInvoice());

  test.each([
    ['no signature header', { signature: null }, 'missing_signature'],
    ['a malformed signature header', { signature: 'garbage' }, 'malformed_signature'],
    ['a signature made with another secret', { secret: 'whsec_someone_else' }, 'invalid_signature'],
    ['a signature older than 300 s', { timestamp: nowSeconds() - 301 }, 'stale_signature'],
  ])('%s → 400 with the reason, nothing stored', async (_label, options, code) => {
    const before = await countEvents(t.database.db);
    const res = await postWebhook(t.url, anEvent(), options);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ success: false, error: { code, message: expect.any(String) } });
    expect(await countEvents(t.database.db)).toBe(before);
  });

  it('refuses a body altered after signing (a re-serialised, pre-parsed body) → 400, nothing stored', async () => {
    const event = anEvent();
    const original = JSON.stringify(event);
    const signature = (await import('stripe')).default.webhooks.generateTestHeaderString({
      payload: original,
      secret: TEST_WEBHOOK_SECRET,
    });
    const reformatted = JSON.stringify(event, null, 2);
    const res = await postWebhook(t.url, reformatted, { signature });
    expect(res.status).toBe(400);
    expect((res.json.error as { code: string }).code).toBe('invalid_signature');
    expect(await findEvent(t.database.db, event.id)).toBeNull();
  });

  it('refuses a signed body that is not an event → 400', async () => {
    const res = await postWebhook(t.url, '{"hello":"world"}');
    expect(res.status).toBe(400);
    expect((res.json.error as { code: string }).code).toBe('malformed_payload');
  });

  test.each([
    ['a NUL character in a string', (e: Stripe.Event) => JSON.stringify(e).replace('"open"', '"op\\u0000en"'), /u0000/],
    ['created far in the future', (e: Stripe.Event) => JSON.stringify({ ...e, created: 1e15 }), /Unix time/],
    ['created not a whole second', (e: Stripe.Event) => JSON.stringify({ ...e, created: 1.5 }), /Unix time/],
    // Found by the fuzz suite: PostgreSQL's jsonb refused it ("invalid input syntax for type json"), answered 500, so
    // Stripe would have retried it for days.
    [
      'an unpaired surrogate in a string',
      (e: Stripe.Event) => JSON.stringify(e).replace('"open"', '"op\\ud800en"'),
      /unpaired surrogate/,
    ],
    [
      'an unpaired surrogate in a key',
      (e: Stripe.Event) => JSON.stringify({ ...e, '\udc00': 1 }),
      /unpaired surrogate/,
    ],
    [
      'nesting 5,000 levels deep',
      (e: Stripe.Event) =>
        JSON.stringify({ ...e, deep: 0 }).replace('"deep":0', `"deep":${'['.repeat(5000)}${']'.repeat(5000)}`),
      /nests deeper than 64 levels/,
    ],
  ] as Array<[string, (e: Stripe.Event) => string, RegExp]>)(
    'refuses a signed event it could never store (%s) → 400 with the reason, not a 500',
    async (_label, body, reason) => {
      const before = await countEvents(t.database.db);
      const res = await postWebhook(t.url, body(anEvent()));
      expect(res.status).toBe(400);
      expect(res.json.error).toEqual({ code: 'malformed_payload', message: expect.stringMatching(reason) });
      expect(await countEvents(t.database.db)).toBe(before);
    },
  );

  it('stores an escaped backslash followed by u0000 (text, not a NUL)', async () => {
    const event = anEvent();
    const res = await postWebhook(t.url, JSON.stringify(event).replace('"open"', '"op\\\\u0000en"'));
    expect(res.status).toBe(200);
    // Stored as text: a backslash followed by u0000, no NUL.
    const stored = await findEvent(t.database.db, event.id);
    expect((stored?.payload as { data: { object: { status: string } } }).data.object.status).toBe('op\\u0000en');
  });

  it('refuses a body over 1 MB → 413, nothing stored', async () => {
    const before = await countEvents(t.database.db);
    const huge = stripeEvent('invoice.updated', stripeInvoice({ description: 'x'.repeat(1024 * 1024) }));
    const res = await postWebhook(t.url, huge);
    expect(res.status).toBe(413);
    expect((res.json.error as { code: string }).code).toBe('payload_too_large');
    expect(await countEvents(t.database.db)).toBe(before);
  });

  it('refuses an oversize body sent in chunks without a length → 413, nothing stored', async () => {
    const before = await countEvents(t.database.db);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${t.url}/api/v1/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      // The server reads and drops the rest of the upload after its 413, so no write fails (it used to reset).
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = (): void => {
        while (sent < 2 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(await countEvents(t.database.db)).toBe(before);
  });

  it('stores a valid event with its metadata and acknowledges it', async () => {
    const invoice = stripeInvoice();
    const event = stripeEvent('invoice.updated', invoice, { created: nowSeconds() - 5 });
    const res = await postWebhook(t.url, event, { contentType: 'application/json; charset=utf-8' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ received: true, duplicate: false });
    const stored = await findEvent(t.database.db, event.id);
    expect(stored).toMatchObject({
      type: 'invoice.updated',
      apiVersion: '2026-10-28.endive',
      livemode: false,
      objectId: invoice.id,
    });
    expect(stored?.stripeCreatedAt.getTime()).toBe(event.created * 1000);
    expect((stored?.payload as { id: string }).id).toBe(event.id);
  });

  it('stores a redelivered event once and says it was a duplicate', async () => {
    const event = stripeEvent('invoice.updated', stripeInvoice());
    const results = [];
    for (let i = 0; i < 3; i += 1) {
      results.push(await postWebhook(t.url, event));
    }
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.map((r) => r.json.duplicate)).toEqual([false, true, true]);
    const count = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute('select count(*)::int as n from webhook_events where id = ?', [event.id]);
    expect(count[0].n).toBe(1);
  });

  it('a burst of deliveries at once, repeats among them: every event stored once, one delivery of each not a duplicate', async () => {
    const events = Array.from({ length: 30 }, () => stripeEvent('invoice.updated', stripeInvoice()));
    const deliveries = [...events, ...events.slice(0, 10), ...events.slice(5, 15)];
    const results = await Promise.all(deliveries.map((event) => postWebhook(t.url, event)));

    expect(results.every((r) => r.status === 200)).toBe(true);
    const firsts = new Map<string, number>();
    deliveries.forEach((event, i) => {
      if (results[i].json.duplicate === false) {
        firsts.set(event.id, (firsts.get(event.id) ?? 0) + 1);
      }
    });
    expect([...firsts.values()]).toEqual(events.map(() => 1));
    const rows = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute('select count(*)::int as n from webhook_events where id in (?)', [events.map((e) => e.id)]);
    expect(rows[0].n).toBe(30);
  });

  it('keeps exact bytes and duplicate detection for a payload full of semicolons and quotes', async () => {
    const event = stripeEvent('invoice.updated', stripeInvoice({ description: `a; b'; "c"; drop table x; --` }));
    const results = [await postWebhook(t.url, event), await postWebhook(t.url, event)];
    expect(results.map((r) => r.json.duplicate)).toEqual([false, true]);
    const stored = await findEvent(t.database.db, event.id);
    expect((stored?.payload as { data: { object: { description: string } } }).data.object.description).toBe(
      `a; b'; "c"; drop table x; --`,
    );
  });

  it('answers on its own lane like every route: request id echoed, other spellings still reach Express', async () => {
    const Stripe = (await import('stripe')).default;
    const send = (path: string, headers: Record<string, string> = {}) => {
      const payload = JSON.stringify(anEvent());
      return fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: TEST_WEBHOOK_SECRET }),
          ...headers,
        },
        body: payload,
      });
    };
    const res = await send('/api/v1/webhooks/stripe?source=stripe', { 'x-request-id': 'stripe-delivery-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('stripe-delivery-1');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // Not the lane's exact path: Express's router serves these with the same intake.
    expect((await send('/api/v1/webhooks/stripe/')).status).toBe(200);
    expect((await send('/API/v1/webhooks/Stripe')).status).toBe(200);
    expect((await fetch(`${t.url}/api/v1/webhooks/stripe`)).status).toBe(404);
  });

  it('acknowledges an unknown event type, stores it and marks it ignored', async () => {
    const event = stripeEvent('payout.paid', { id: stripeId('po') });
    const res = await postWebhook(t.url, event);
    expect(res.status).toBe(200);
    const stored = await settled(t.database.db, event.id);
    expect(stored.status).toBe('ignored');
    expect(stored.attempts).toBe(1);
    expect(stored.lastError ?? null).toBeNull();
  });

  test.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'stores and ignores a signed event whose type is an object property name (%s)',
    async (type) => {
      const event = { ...stripeEvent('payout.paid', { id: stripeId('po') }), type } as unknown as Stripe.Event;
      expect((await postWebhook(t.url, event)).status).toBe(200);
      const stored = await settled(t.database.db, event.id);
      expect(stored.status).toBe('ignored');
      expect(stored.lastError ?? null).toBeNull();
    },
  );

  it('ignores an invoice we did not create (no agenthub metadata)', async () => {
    const event = stripeEvent('invoice.paid', stripeInvoice({ status: 'paid' }));
    await postWebhook(t.url, event);
    expect((await settled(t.database.db, event.id)).status).toBe('ignored');
  });

  it('reports health figures', async () => {
    const res = await fetch(`${t.url}/api/v1/webhooks/health`);
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      secretConfigured: true,
      secretWellFormed: true,
      stripeMode: 'emulator',
      pendingCount: 0,
      oldestPendingAgeSeconds: null,
      failedCount: 0,
    });
    expect(Date.now() - Date.parse(body.lastEventReceivedAt as string)).toBeLessThan(60_000);
  });

  /** The router alone in a bare app, to try configurations and mounting mistakes the real server avoids. */
  async function bareApp(config: AppConfig, before?: express.RequestHandler) {
    const { router } = createWebhookComponents({ db: t.database.db, config, logger: createLogger(config) });
    const app = express();
    if (before) {
      app.use(before);
    }
    app.use(router);
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((resolve) => server.close(resolve)),
    };
  }

  it('refuses a body another parser already consumed (router mounted after express.json) → 400', async () => {
    const { url, close } = await bareApp(t.config, express.json());
    try {
      const event = anEvent();
      const res = await postWebhook(url, event);
      expect(res.status).toBe(400);
      expect((res.json.error as { code: string }).code).toBe('raw_body_required');
      expect(await findEvent(t.database.db, event.id)).toBeNull();
    } finally {
      await close();
    }
  });

  it('an event stored by another instance is picked up by this one by polling', async () => {
    // The bare app stores events but runs no worker; the test server's worker shares the database.
    const { url, close } = await bareApp(t.config);
    try {
      const event = stripeEvent('payout.paid', { id: stripeId('po') });
      expect((await postWebhook(url, event)).status).toBe(200);
      const stored = await settled(t.database.db, event.id);
      expect(stored.status).toBe('ignored');
      const latency = (stored.processedAt as Date).getTime() - stored.receivedAt.getTime();
      process.stdout.write(`cross-instance pickup (poll): ${latency} ms\n`);
    } finally {
      await close();
    }
  });

  it('answers 503 with an explanation when no signing secret is configured, storing nothing', async () => {
    const config: AppConfig = { ...t.config, stripe: { ...t.config.stripe, webhookSecrets: undefined } };
    const { url, close } = await bareApp(config);
    try {
      const event = anEvent();
      const res = await postWebhook(url, event);
      expect(res.status).toBe(503);
      expect(res.json.error).toEqual({
        code: 'webhook_secret_not_configured',
        message: expect.stringContaining('STRIPE_WEBHOOK_SECRET'),
      });
      expect(await findEvent(t.database.db, event.id)).toBeNull();
      const health = await fetch(`${url}/api/v1/webhooks/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'unhealthy', secretConfigured: false });
    } finally {
      await close();
    }
  });
});
