import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadConfig } from '../../src/config/config';
import { WebhookEvent } from '../../src/entities';
import type Stripe from 'stripe';
import { InvoiceStatus, Role, WebhookEventStatus } from '../../src/entities/enums';
import type { Database } from '../../src/entities/orm';
import { openDatabase } from '../../src/entities/orm';
import { ForbiddenError } from '../../src/services/shared/errors';
import { canTransition } from '../../src/services/invoicing/invoice-status';
import {
  listWebhookEvents,
  replayWebhookEvent,
  replayWebhookEvents,
} from '../../src/services/stripe-events/webhook-events.service';
import { resolveWebhookOptions } from '../../src/webhooks';
import type { DispatchTable, WebhookOptions } from '../../src/webhooks';
import type { TestDatabase } from '../helpers/database';
import { createTestDatabase } from '../helpers/database';
import type { Clock } from '../../src/config/clock';
import { ManualClock } from '../helpers/clock';
import {
  applyInOneBatch,
  findEvent,
  historyOf,
  invoiceEvent,
  loadInvoice,
  nowSeconds,
  outgoingOf,
  postWebhook,
  remoteOf,
  seedInvoice,
  settled,
  stripeEvent,
  stripeId,
  stripeInvoice,
  storeEvent,
  waitFor,
  webhookComponents,
} from './fixtures';

const admin = { userId: 'admin-1', role: Role.ADMIN };

/** A side effect the tests can count: one row per handler run that committed. */
async function createEffectsTable(db: Database): Promise<void> {
  await db.orm.em
    .fork()
    .getConnection()
    .execute('create table webhook_test_effects (event_id text not null, worker text not null)');
}

async function effects(db: Database): Promise<Array<{ event_id: string; worker: string }>> {
  return db.orm.em.fork().getConnection().execute('select event_id, worker from webhook_test_effects');
}

function recordingHandler(worker: string): DispatchTable {
  return {
    'customer.subscription.created': async ({ em, event }) => {
      await em.execute('insert into webhook_test_effects (event_id, worker) values (?, ?)', [event.id, worker], 'run');
      return { outcome: 'processed' };
    },
  };
}

function workerOn(db: Database, options: Partial<WebhookOptions>, clock?: Clock) {
  return webhookComponents(db, options, clock).worker;
}

/** An event the recording handlers take; its object is nothing the server reads. */
const anEvent = (created = nowSeconds()) =>
  stripeEvent('customer.subscription.created', { id: stripeId('sub') }, { created });

// One database for the file (creating and migrating one costs seconds on PGlite).
let test: TestDatabase;
let db: Database;
beforeAll(async () => {
  test = await createTestDatabase();
  db = test.db;
  await createEffectsTable(db);
});
afterAll(() => test.drop());

describe('webhook worker', () => {
  it('retries a throwing handler with exponential backoff, rolls its effect back, keeps the error, then fails', async () => {
    const clock = new ManualClock();
    const calls: number[] = [];
    const handlers: DispatchTable = {
      'customer.subscription.created': async ({ em, event }) => {
        calls.push(clock.now());
        await em.execute('insert into webhook_test_effects (event_id, worker) values (?, ?)', [event.id, 'x'], 'run');
        throw new Error(`boom ${calls.length}`);
      },
    };
    const worker = workerOn(db, { handlers, retryBaseMs: 50, maxAttempts: 3, pollIntervalMs: 10 }, clock);
    const event = anEvent();
    await storeEvent(db, event);
    worker.start();
    try {
      // One poll interval at a time, each once the worker has gone back to sleep: an attempt happens at the first
      // poll at which it is due, on the worker's clock, however long the machine takes.
      while ((await findEvent(db, event.id))?.status === 'pending') {
        await clock.whenSleeping();
        if ((await findEvent(db, event.id))?.status === 'pending') {
          clock.advance(10);
        }
      }
      const failed = await findEvent(db, event.id);
      expect(failed?.status).toBe('failed');
      expect(failed?.attempts).toBe(3);
      expect(failed?.lastError).toBe('attempt 3: Error: boom 3');
    } finally {
      await worker.stop();
    }
    // 50 ms, then 100 ms (base · 2^(n-1)), to the millisecond.
    expect(calls.map((at) => at - calls[0])).toEqual([0, 50, 150]);
    expect((await effects(db)).filter((e) => e.event_id === event.id)).toEqual([]);
  });

  it('stop() waits for the batch in flight to commit', async () => {
    let started = false;
    const handlers: DispatchTable = {
      'customer.subscription.created': async ({ em }) => {
        started = true;
        // Slow, but only through the transactional manager (never hold PGlite's one connection on anything else).
        await em.execute('select pg_sleep(0.3)');
        return { outcome: 'processed' };
      },
    };
    const worker = workerOn(db, { handlers, pollIntervalMs: 10 });
    const event = anEvent();
    await storeEvent(db, event);
    worker.start();
    await waitFor(async () => started);
    await worker.stop();
    expect((await findEvent(db, event.id))?.status).toBe('processed');
  });

  // PostgreSQL only: the embedded database has one connection (nothing to wait behind) and does not enforce
  // statement_timeout.
  const boundedOnPostgres = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL ? it : it.skip;
  boundedOnPostgres('bounds a handler stuck in the database: it times out, is retried, the batch goes on', async () => {
    let calls = 0;
    const handlers: DispatchTable = {
      'customer.subscription.created': async ({ em, event }) => {
        calls += 1;
        if (event.object.kind === 'other' && event.object.id === 'sub_stuck' && calls === 1) {
          // Stands for a wait on a row another request holds, one that would outlast the test: only the batch's
          // statement timeout ends it.
          await em.execute('select pg_sleep(600)');
        }
        await em.execute(
          'insert into webhook_test_effects (event_id, worker) values (?, ?)',
          [event.id, 'bounded'],
          'run',
        );
        return { outcome: 'processed' };
      },
    };
    const worker = workerOn(db, { handlers, handlerTimeoutMs: 200, retryBaseMs: 50, pollIntervalMs: 10 });
    const stuck = stripeEvent('customer.subscription.created', { id: 'sub_stuck' }, { created: nowSeconds() - 10 });
    const next = anEvent();
    await storeEvent(db, stuck);
    await storeEvent(db, next);
    worker.start();
    try {
      expect((await settled(db, next.id)).status).toBe('processed');
      const done = await settled(db, stuck.id);
      expect(done.status).toBe('processed');
      expect(done.attempts).toBe(2);
      expect(done.lastError).toMatch(/attempt 1: .*statement timeout/);
    } finally {
      await worker.stop();
    }
    const applied = (await effects(db)).filter((e) => e.worker === 'bounded').map((e) => e.event_id);
    expect(applied.sort()).toEqual([stuck.id, next.id].sort());
  });

  it('does nothing when disabled (an ingress-only instance)', async () => {
    const clock = new ManualClock();
    const worker = workerOn(db, { workerEnabled: false, handlers: recordingHandler('off') }, clock);
    const event = anEvent();
    await storeEvent(db, event);
    // An enabled worker finishes the batch it started before stop() returns; this one never starts one, nor waits
    // for a poll.
    worker.start();
    await worker.stop();
    expect(clock.pending).toBe(0);
    expect((await findEvent(db, event.id))?.status).toBe('pending');
    // Leave nothing pending for the next tests.
    const cleanup = workerOn(db, { handlers: recordingHandler('cleanup') });
    await cleanup.runOnce();
  });

  it('applies an event acknowledged before a crash once a worker runs again', async () => {
    // Instance A acknowledges and dies before its worker ran (its worker is never started).
    const a = webhookComponents(db);
    const server = http.createServer(express().use(a.router));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const event = anEvent();
    try {
      const res = await postWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, event);
      expect(res.status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect((await findEvent(db, event.id))?.status).toBe('pending');
    // The restarted instance picks it up.
    const b = workerOn(db, { handlers: recordingHandler('restarted'), pollIntervalMs: 10 });
    b.start();
    try {
      expect((await settled(db, event.id)).status).toBe('processed');
    } finally {
      await b.stop();
    }
    expect((await effects(db)).filter((e) => e.event_id === event.id)).toEqual([
      { event_id: event.id, worker: 'restarted' },
    ]);
  });

  it('applies two status changes of one invoice in one batch, each with its history row and its outgoing event as the invoice was then', async () => {
    const row = await seedInvoice(db, { status: InvoiceStatus.OPEN });
    const t0 = nowSeconds() - 10;
    const failed = invoiceEvent('invoice.payment_failed', remoteOf(row), t0);
    const events = [failed, invoiceEvent('invoice.paid', failed.data.object, t0 + 1)];
    // One batch: both events are applied by this one call.
    await applyInOneBatch(db, events);
    for (const event of events) {
      expect((await findEvent(db, event.id))?.status).toBe('processed');
    }
    expect((await loadInvoice(db, row.id)).status).toBe(InvoiceStatus.PAID);
    expect((await historyOf(db, row.id)).map((h) => [h.fromStatus, h.toStatus, h.sourceRef])).toEqual([
      [InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED, events[0].id],
      [InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.PAID, events[1].id],
    ]);
    // Written together at the end of the batch, each event still says what the invoice was at its change.
    const outgoing = await outgoingOf(db, row.id);
    expect(
      outgoing.map((e) => [e.type, e.data.previousStatus, e.data.invoice.status, e.data.invoice.amountPaidMinor]),
    ).toEqual([
      ['invoice.payment_failed', InvoiceStatus.OPEN, InvoiceStatus.PAYMENT_FAILED, 0],
      ['invoice.paid', InvoiceStatus.PAYMENT_FAILED, InvoiceStatus.PAID, 12345],
    ]);
    expect(outgoing[1].data.invoice).toMatchObject({
      id: row.id,
      number: row.number,
      currency: 'usd',
      totalMinor: 12345,
    });
  });

  it('stamps updated_at of an invoice a batch writes with the time of the write, as the ORM stamps it', async () => {
    const row = await seedInvoice(db, { status: InvoiceStatus.OPEN });
    const long = new Date('2020-01-01T00:00:00Z');
    await db.orm.em.fork().getConnection().execute('update invoices set updated_at = ? where id = ?', [long, row.id]);
    const t0 = nowSeconds() - 10;
    const failed = invoiceEvent('invoice.payment_failed', remoteOf(row), t0);
    const before = Date.now();
    await applyInOneBatch(db, [failed, invoiceEvent('invoice.paid', failed.data.object, t0 + 1)]);
    const after = Date.now();
    const invoice = await loadInvoice(db, row.id);
    expect(invoice.status).toBe(InvoiceStatus.PAID);
    expect(invoice.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(invoice.updatedAt.getTime()).toBeLessThanOrEqual(after);
  });

  const onPostgres = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL ? it : it.skip;
  onPostgres('two workers on one PostgreSQL database apply each of 200 events exactly once', async () => {
    const second = await openDatabase({ databaseUrl: test.url, poolMax: 5 });
    const events = Array.from({ length: 200 }, (_, i) => anEvent(nowSeconds() - 200 + i));
    for (const event of events) {
      await storeEvent(db, event);
    }
    const a = workerOn(db, { handlers: recordingHandler('a'), batchSize: 10, pollIntervalMs: 10 });
    const b = workerOn(second, { handlers: recordingHandler('b'), batchSize: 10, pollIntervalMs: 10 });
    a.start();
    b.start();
    try {
      const ids = events.map((e) => e.id);
      await waitFor(
        async () =>
          (await db.orm.em.fork().count(WebhookEvent, { id: { $in: ids }, status: WebhookEventStatus.PROCESSED })) ===
          200,
        undefined,
        '200 events processed',
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await second.close();
    }
    const rows = (await effects(db)).filter((e) => events.some((ev) => ev.id === e.event_id));
    expect(rows).toHaveLength(200);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(200);
    const byWorker = { a: rows.filter((r) => r.worker === 'a').length, b: rows.filter((r) => r.worker === 'b').length };
    process.stdout.write(`two workers: a=${byWorker.a} b=${byWorker.b}\n`);
    expect(byWorker.a + byWorker.b).toBe(200);
  });

  onPostgres(
    'two workers racing on events about the same invoices leave every invoice PAID, no regression',
    async () => {
      const second = await openDatabase({ databaseUrl: test.url, poolMax: 5 });
      const rows = await Promise.all(
        Array.from({ length: 10 }, () => seedInvoice(db, { status: InvoiceStatus.DRAFT, stripeInvoiceId: null })),
      );
      const t0 = nowSeconds() - 30;
      const events = rows.flatMap((row) => {
        const remote = stripeInvoice({ metadata: { agenthub_invoice_id: row.id } });
        return (
          [
            ['invoice.finalized', t0],
            ['invoice.payment_failed', t0 + 1],
            ['invoice.payment_succeeded', t0 + 2],
            ['invoice.paid', t0 + 2],
          ] as Array<[Stripe.Event.Type, number]>
        ).map(([type, created]) => invoiceEvent(type, remote, created));
      });
      // Stored in a scrambled order (receive order differs from Stripe's order).
      events.sort((x, y) => x.id.localeCompare(y.id));
      for (const event of events) {
        await storeEvent(db, event);
      }
      const a = workerOn(db, { batchSize: 4, pollIntervalMs: 10, retryBaseMs: 20 });
      const b = workerOn(second, { batchSize: 4, pollIntervalMs: 10, retryBaseMs: 20 });
      a.start();
      b.start();
      try {
        for (const event of events) {
          expect((await settled(db, event.id)).status).toBe('processed');
        }
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        await second.close();
      }
      for (const row of rows) {
        expect((await loadInvoice(db, row.id)).status).toBe(InvoiceStatus.PAID);
        const history = await historyOf(db, row.id);
        expect(history.every((h) => canTransition(h.fromStatus as InvoiceStatus, h.toStatus))).toBe(true);
        expect(history.filter((h) => h.toStatus === InvoiceStatus.PAID)).toHaveLength(1);
      }
      // Workers take a Stripe object one at a time (advisory lock), so batches never deadlock on invoice rows.
      const retried = await db.orm.em
        .fork()
        .find(WebhookEvent, { id: { $in: events.map((e) => e.id) }, lastError: { $ne: null } });
      expect(retried.map((e) => e.lastError)).toEqual([]);
    },
  );
});

/** Fixed receive times, one minute apart, so time filters are exact. */
const minute = (n: number): Date => new Date(Date.UTC(2026, 10, 1, 12, n));

describe('admin services: list and replay', () => {
  const ids: string[] = [];
  beforeAll(async () => {
    // Start from an empty table so counts and order are exact.
    await db.orm.em.fork().getConnection().execute('delete from webhook_events');
    for (const [type, status] of [
      ['invoice.paid', 'processed'],
      ['invoice.payment_failed', 'failed'],
      ['customer.subscription.updated', 'processed'],
      ['payout.paid', 'ignored'],
      ['invoice.voided', 'failed'],
    ] as const) {
      const event = stripeEvent(type, { id: stripeId('obj') });
      await storeEvent(db, event);
      await db.orm.em
        .fork()
        .getConnection()
        .execute(
          `update webhook_events set status = ?::webhook_event_status, attempts = 2, last_error = 'old error',
           received_at = ?::timestamptz where id = ?`,
          [status, minute(ids.length).toISOString(), event.id],
        );
      ids.push(event.id);
    }
  });

  it('refuses non-admins', async () => {
    const em = db.orm.em.fork();
    await expect(listWebhookEvents(em, { userId: 'u1', role: Role.USER }, {})).rejects.toBeInstanceOf(ForbiddenError);
    await expect(listWebhookEvents(em, { userId: 's', role: Role.SERVICE }, {})).rejects.toBeInstanceOf(ForbiddenError);
    await expect(replayWebhookEvent(em, { userId: 'u1', role: Role.USER }, ids[0])).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });

  it('lists newest first with filters and cursor pagination', async () => {
    const em = db.orm.em.fork();
    const all = await listWebhookEvents(em, admin, {});
    expect(all.totalCount).toBe(5);
    expect(all.events.map((e) => e.id)).toEqual([...ids].reverse());

    const invoices = await listWebhookEvents(em, admin, { type: 'invoice.*' });
    expect(invoices.events.map((e) => e.type)).toEqual(['invoice.voided', 'invoice.payment_failed', 'invoice.paid']);
    const failed = await listWebhookEvents(em, admin, { status: WebhookEventStatus.FAILED });
    expect(failed.totalCount).toBe(2);
    const exact = await listWebhookEvents(em, admin, { type: 'payout.paid' });
    expect(exact.events.map((e) => e.id)).toEqual([ids[3]]);

    const page1 = await listWebhookEvents(em, admin, { first: 2 });
    expect(page1.hasNextPage).toBe(true);
    const page2 = await listWebhookEvents(em, admin, { first: 2, after: page1.cursors[1] });
    const page3 = await listWebhookEvents(em, admin, { first: 2, after: page2.cursors[1] });
    expect([...page1.events, ...page2.events, ...page3.events].map((e) => e.id)).toEqual([...ids].reverse());
    expect(page3.hasNextPage).toBe(false);

    const recent = await listWebhookEvents(em, admin, { since: minute(2) });
    expect(recent.events.map((e) => e.id)).toEqual([ids[4], ids[3], ids[2]]);
    const older = await listWebhookEvents(em, admin, { until: minute(2) });
    expect(older.events.map((e) => e.id)).toEqual([ids[1], ids[0]]);
    await expect(listWebhookEvents(em, admin, { after: 'nope' })).rejects.toThrow('Invalid cursor');
    await expect(listWebhookEvents(em, admin, { type: "x'; drop" })).rejects.toThrow(/type must be/);
  });

  it('replays one event (admin) and by filter (CLI), keeping the last error', async () => {
    const em = db.orm.em.fork();
    const one = await replayWebhookEvent(em, admin, ids[0]);
    expect(one).toMatchObject({ status: 'pending', attempts: 0, lastError: 'old error' });
    await expect(replayWebhookEvent(em, admin, 'evt_missing')).rejects.toThrow(/not found/);

    const failed = await replayWebhookEvents(db.orm.em.fork(), { failed: true });
    expect(failed.ids.sort()).toEqual([ids[1], ids[4]].sort());
    const none = await replayWebhookEvents(db.orm.em.fork(), { failed: true });
    expect(none.count).toBe(0);
    const since = await replayWebhookEvents(db.orm.em.fork(), { since: minute(3) });
    expect(since.ids.sort()).toEqual([ids[3], ids[4]].sort());
    await expect(replayWebhookEvents(db.orm.em.fork(), {})).rejects.toThrow(/Give an event id/);
  });
});

describe('webhook options', () => {
  it('come from the WEBHOOK_* settings of the configuration, which names a bad one', () => {
    const configured = loadConfig({ WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_WORKER_ENABLED: 'false' });
    expect(resolveWebhookOptions(configured)).toMatchObject({
      retryBaseMs: 50,
      workerEnabled: false,
      maxAttempts: 8,
      pollIntervalMs: 100,
      handlerTimeoutMs: 10_000,
    });
    expect(resolveWebhookOptions(configured, { maxAttempts: 2 }).maxAttempts).toBe(2);
    expect(() => loadConfig({ WEBHOOK_RETRY_MAX_ATTEMPTS: 'many', BILLING_CONCURRENCY: '0' })).toThrow(
      /WEBHOOK_RETRY_MAX_ATTEMPTS: must be a whole number[\s\S]*BILLING_CONCURRENCY: must be a whole number/,
    );
  });
});
