import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { systemClock } from '../src/config/clock';
import { createLogger } from '../src/config/logger';
import { Customer, Invoice, OutgoingEvent } from '../src/entities';
import { ChannelListener } from '../src/entities/channel-listener';
import { InvoiceStatus, StatusChangeSource } from '../src/entities/enums';
import type { Database } from '../src/entities/orm';
import { UNBILLED_BUCKET } from '../src/entities/usage-rollup.entity';
import { lockInvoiceStates, writeInvoiceStates } from '../src/services/invoicing/invoice-repository';
import {
  InvalidTransitionError,
  PAYABLE,
  STATUS_CHANNEL,
  TRANSITIONS,
  canTransition,
  isTerminal,
  pathTo,
  recordCreation,
  transitionInvoice,
} from '../src/services/invoicing/invoice-status';
import type { StatusNotification } from '../src/services/invoicing/invoice-status';
import { RECONNECT_BACKOFF } from '../src/services/status-feed/status-change-hub';
import { createTestDatabase } from './helpers/database';
import type { TestDatabase } from './helpers/database';
import { waitForValue } from './helpers/wait';
import { historyOf, loadInvoice, seedInvoice } from './webhooks/fixtures';

const S = InvoiceStatus;

/** The transition table of docs/architecture.md (invariant 2), row by row. */
const DESIGN: Record<InvoiceStatus, InvoiceStatus[]> = {
  [S.DRAFT]: [S.OPEN, S.VOID],
  [S.OPEN]: [S.PROCESSING, S.REQUIRES_ACTION, S.PAYMENT_FAILED, S.PAID, S.VOID, S.UNCOLLECTIBLE],
  [S.PROCESSING]: [S.PAID, S.PAYMENT_FAILED, S.REQUIRES_ACTION],
  [S.REQUIRES_ACTION]: [S.PROCESSING, S.PAID, S.PAYMENT_FAILED, S.VOID, S.UNCOLLECTIBLE],
  [S.PAYMENT_FAILED]: [S.PROCESSING, S.REQUIRES_ACTION, S.PAID, S.VOID, S.UNCOLLECTIBLE],
  [S.UNCOLLECTIBLE]: [S.PAID, S.VOID],
  [S.PAID]: [],
  [S.VOID]: [],
};

const all = Object.values(S);
const pairs = all.flatMap((from) => all.map((to) => [from, to] as const));

describe('invoice status transitions', () => {
  it.each(pairs)('%s → %s follows the design table', (from, to) => {
    expect(canTransition(from, to)).toBe(DESIGN[from].includes(to));
  });

  it('has exactly PAID and VOID as terminal states', () => {
    expect(all.filter(isTerminal).sort()).toEqual([S.PAID, S.VOID]);
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...all].sort());
  });

  it('never moves back to DRAFT', () => {
    expect(all.some((from) => canTransition(from, S.DRAFT))).toBe(false);
  });
});

describe('pathTo', () => {
  it.each(pairs)('%s → %s: the direct move when the table has it, every step allowed', (from, to) => {
    const path = pathTo(from, to);
    if (canTransition(from, to)) {
      expect(path).toEqual([to]);
    }
    path.forEach((step, index) => expect(canTransition(index === 0 ? from : path[index - 1], step)).toBe(true));
  });

  it('voids a PROCESSING invoice through PAYMENT_FAILED: Stripe voided it, so the pending payment charged nothing', () => {
    expect(pathTo(S.PROCESSING, S.VOID)).toEqual([S.PAYMENT_FAILED, S.VOID]);
  });

  it('has no path out of a terminal state, nor back to DRAFT', () => {
    expect(pathTo(S.PAID, S.VOID)).toEqual([]);
    expect(pathTo(S.VOID, S.PAID)).toEqual([]);
    expect(pathTo(S.OPEN, S.DRAFT)).toEqual([]);
    expect(pathTo(S.PROCESSING, S.UNCOLLECTIBLE)).toEqual([]);
  });
});

describe('PAYABLE', () => {
  it('is every status that may move to PAID except PROCESSING, whose attempt is still pending', () => {
    expect([...PAYABLE].sort()).toEqual([S.OPEN, S.PAYMENT_FAILED, S.REQUIRES_ACTION, S.UNCOLLECTIBLE].sort());
    expect(all.filter((status) => canTransition(status, S.PAID) && status !== S.PROCESSING).sort()).toEqual(
      [...PAYABLE].sort(),
    );
  });
});

const at = new Date('2024-02-03T04:05:06Z');

/**
 * The status writers against a real database: what an invoice, its history (`invoice_status_changes`), the outbox
 * and the usage tables hold once the caller's transaction ends, and the NOTIFYs a listener on the channel hears.
 */
describe('status changes, as written', () => {
  let test: TestDatabase;
  let db: Database;
  let listener: ChannelListener;
  const heard: string[] = [];
  const wakers = new Set<() => void>();
  const onHeard = (wake: () => void): (() => void) => {
    wakers.add(wake);
    return () => wakers.delete(wake);
  };

  beforeAll(async () => {
    test = await createTestDatabase();
    db = test.db;
    listener = new ChannelListener(db, {
      channel: STATUS_CHANNEL,
      name: 'test',
      onNotification: (payload) => {
        heard.push(payload);
        wakers.forEach((wake) => wake());
      },
      onBack: () => undefined,
      clock: systemClock,
      backoff: RECONNECT_BACKOFF,
      log: createLogger({ logLevel: 'silent' }),
    });
    await listener.start();
  });
  afterAll(async () => {
    await listener.stop();
    await test.drop();
  });

  let fences = 0;
  /**
   * The NOTIFYs about the invoice committed so far: a marker is committed and heard after them (a listener hears
   * notifications in commit order), so one that was never sent is known missing without waiting for it.
   */
  async function notified(invoiceId: string): Promise<StatusNotification[]> {
    const fence = `fence-${(fences += 1)}`;
    await db.orm.em.fork().execute('select pg_notify(?, ?)', [STATUS_CHANNEL, fence]);
    const upTo = await waitForValue(`the marker ${fence}`, async () => heard.indexOf(fence) + 1, onHeard);
    return heard
      .slice(0, upTo)
      .filter((payload) => !payload.startsWith('fence-'))
      .map((payload) => JSON.parse(payload) as StatusNotification)
      .filter((notification) => notification.invoiceId === invoiceId);
  }

  /** The invoice as a service has it: loaded in the transaction `fn` runs in. */
  const inTransaction = <T>(id: string, fn: (em: EntityManager, invoice: Invoice) => Promise<T>): Promise<T> =>
    db.orm.em.fork().transactional(async (em) => fn(em, await em.findOneOrFail(Invoice, id)));

  const outbox = async (invoiceId: string) =>
    (await db.orm.em.fork().find(OutgoingEvent, { orderingKey: invoiceId }, { orderBy: { id: 'asc' } })).map(
      ({ messageId, type, data }) => ({ messageId, type, data }),
    );

  /** The invoice's history rows, oldest first, as plain values. */
  const history = async (invoiceId: string) =>
    (await historyOf(db, invoiceId)).map(
      ({ id, invoice, fromStatus, toStatus, source, sourceRef, reason, occurredAt }) => ({
        id,
        invoiceId: invoice.id,
        fromStatus,
        toStatus,
        source,
        sourceRef,
        reason,
        occurredAt,
      }),
    );

  /** The change's outgoing webhook event: the invoice as the change left it. */
  const event = (type: string, invoiceId: string, status: InvoiceStatus) => ({
    messageId: expect.stringMatching(/^msg_\w+$/),
    type,
    data: expect.objectContaining({ invoice: expect.objectContaining({ id: invoiceId, status }) }),
  });

  /** A new invoice made through the ORM in `em`, not flushed (as createInvoice makes one). */
  const newInvoice = (em: EntityManager, status: InvoiceStatus): Invoice =>
    em.create(Invoice, {
      number: `T-${randomUUID()}`,
      customer: em.create(Customer, { externalUserId: `user-${randomUUID()}` }),
      period: '2024-01',
      periodStart: new Date('2024-01-01T00:00:00Z'),
      periodEnd: new Date('2024-02-01T00:00:00Z'),
      currency: 'usd',
      status,
      subtotalMinor: 2550n,
      totalMinor: 2550n,
    });

  const set = (id: string, fields: Partial<Invoice>): Promise<number> =>
    db.orm.em.fork().nativeUpdate(Invoice, { id }, fields);

  describe('transitionInvoice', () => {
    it('moves along the table, appends the history row, then notifies with the written row', async () => {
      const { id } = await seedInvoice(db, { status: S.OPEN, totalMinor: 2550n });
      const cause = { source: StatusChangeSource.WEBHOOK, ref: 'evt_1', reason: 'invoice.paid', at };
      const moved = await inTransaction(id, async (em, invoice) => {
        await expect(transitionInvoice(em, invoice, S.PAID, cause)).resolves.toBe(true);
        expect(invoice).toMatchObject({ status: S.PAID, paidAt: at, amountPaidMinor: 2550n });
        return invoice;
      });
      expect(await loadInvoice(db, id)).toMatchObject({ status: S.PAID, paidAt: at, amountPaidMinor: 2550n });
      const changes = await history(id);
      expect(changes).toEqual([
        expect.objectContaining({
          fromStatus: S.OPEN,
          toStatus: S.PAID,
          source: StatusChangeSource.WEBHOOK,
          sourceRef: 'evt_1',
          reason: 'invoice.paid',
          occurredAt: at,
        }),
      ]);
      expect(changes[0].invoiceId).toBe(moved.id);
      expect(await outbox(id)).toEqual([event('invoice.paid', id, S.PAID)]);
      expect(await notified(id)).toEqual([{ invoiceId: id, changeId: changes[0].id }]);

      // A credit note before payment lowered what was due: the card paid the rest.
      const credited = await seedInvoice(db, { status: S.OPEN, totalMinor: 2550n });
      await set(credited.id, { amountCreditedMinor: 550n });
      await inTransaction(credited.id, (em, invoice) => transitionInvoice(em, invoice, S.PAID, cause));
      expect((await loadInvoice(db, credited.id)).amountPaidMinor).toBe(2000n);
    });

    it('writes the change of an invoice read without the ORM (the webhook worker) the same way', async () => {
      const { id, stripeInvoiceId } = await seedInvoice(db, { status: S.OPEN, totalMinor: 2550n });
      await db.orm.em.fork().transactional(async (em) => {
        const [locked] = await lockInvoiceStates(em, [stripeInvoiceId!]);
        await transitionInvoice(em, locked.state, S.PAID, { source: StatusChangeSource.WEBHOOK, ref: 'evt_2', at });
        await writeInvoiceStates(em, [locked]);
      });
      expect(await loadInvoice(db, id)).toMatchObject({ status: S.PAID, paidAt: at, amountPaidMinor: 2550n });
      const changes = await history(id);
      expect(changes).toEqual([expect.objectContaining({ fromStatus: S.OPEN, toStatus: S.PAID, sourceRef: 'evt_2' })]);
      expect(await outbox(id)).toEqual([event('invoice.paid', id, S.PAID)]);
      expect(await notified(id)).toEqual([{ invoiceId: id, changeId: changes[0].id }]);
    });

    it('refuses to run outside a transaction, before it changes anything', async () => {
      const { id } = await seedInvoice(db, { status: S.OPEN, totalMinor: 2550n });
      const em = db.orm.em.fork();
      const invoice = await em.findOneOrFail(Invoice, id);
      await expect(transitionInvoice(em, invoice, S.PAID, { source: StatusChangeSource.API, at })).rejects.toThrow(
        /inside the caller's transaction/,
      );
      expect(invoice.status).toBe(S.OPEN);
      await em.flush();
      expect(await loadInvoice(db, id)).toMatchObject({ status: S.OPEN });
      expect(await history(id)).toEqual([]);
      expect(await notified(id)).toEqual([]);
    });

    it('records the change of an invoice made in the same transaction and not yet flushed', async () => {
      const id = await db.orm.em.fork().transactional(async (em) => {
        const invoice = newInvoice(em, S.DRAFT);
        await transitionInvoice(em, invoice, S.OPEN, { source: StatusChangeSource.API, at });
        return invoice.id;
      });
      expect(await loadInvoice(db, id)).toMatchObject({ status: S.OPEN, finalizedAt: at });
      const changes = await history(id);
      expect(changes).toEqual([expect.objectContaining({ fromStatus: S.DRAFT, toStatus: S.OPEN, occurredAt: at })]);
      expect(await notified(id)).toEqual([{ invoiceId: id, changeId: changes[0].id }]);
    });

    it('is a no-op for the status the invoice already has (a repeated webhook or retry)', async () => {
      const { id } = await seedInvoice(db, { status: S.PAID, totalMinor: 2550n });
      await set(id, { paidAt: at, amountPaidMinor: 2550n });
      const cause = { source: StatusChangeSource.WEBHOOK, at: new Date('2024-03-01T00:00:00Z') };
      await inTransaction(id, async (em, invoice) => {
        await expect(transitionInvoice(em, invoice, S.PAID, cause)).resolves.toBe(false);
        expect(invoice.paidAt).toEqual(at);
      });
      expect((await loadInvoice(db, id)).paidAt).toEqual(at);
      expect(await history(id)).toEqual([]);
      expect(await outbox(id)).toEqual([]);
      expect(await notified(id)).toEqual([]);
    });

    it('refuses a move the table forbids and changes nothing', async () => {
      const { id } = await seedInvoice(db, { status: S.PAID, totalMinor: 2550n });
      await set(id, { paidAt: at });
      await inTransaction(id, async (em, invoice) => {
        const attempt = transitionInvoice(em, invoice, S.OPEN, { source: StatusChangeSource.API });
        await expect(attempt).rejects.toThrow(new InvalidTransitionError(S.PAID, S.OPEN));
        await expect(attempt).rejects.toMatchObject({
          name: 'InvalidTransitionError',
          message: 'Invoice cannot move from PAID to OPEN',
          from: S.PAID,
          to: S.OPEN,
        });
        expect(invoice.status).toBe(S.PAID);
      });
      expect(await loadInvoice(db, id)).toMatchObject({ status: S.PAID, paidAt: at });
      expect(await history(id)).toEqual([]);
      expect(await outbox(id)).toEqual([]);
      expect(await notified(id)).toEqual([]);
    });

    it('voids with the reason and releases the invoice usage in the transaction of the change and its NOTIFY', async () => {
      const usageOf = async (invoiceId: string) => {
        const em = db.orm.em.fork();
        const claims = await em.execute('select invoice_id from usage_billing_claims where invoice_id = ?', [
          invoiceId,
        ]);
        const buckets = await em.execute(
          'select r.bucket from usage_rollups r join invoices i on i.customer_id = r.customer_id where i.id = ?',
          [invoiceId],
        );
        return { claims: claims.length, buckets: buckets.map((row) => row.bucket) };
      };
      /** An OPEN invoice that billed usage: a claim on its customer's events and a day rollup in its bucket. */
      const billed = async (): Promise<string> => {
        const { id } = await seedInvoice(db, { status: S.OPEN, totalMinor: 2550n });
        await db.orm.em.fork().execute(
          `with i as (select customer_id from invoices where id = ?),
           claim as (
             insert into usage_billing_claims (customer_id, period_start, period_end, first_id, last_id, invoice_id)
             select customer_id, '2024-01-01', '2024-02-01', 1, 10, ? from i)
           insert into usage_rollups (customer_id, metric_id, day, bucket, events, quantity_sum, quantity_max, first_at)
           select customer_id, gen_random_uuid(), '2024-01-05', ?, 10, 10, 1, '2024-01-05' from i`,
          [id, id, id],
        );
        expect(await usageOf(id)).toEqual({ claims: 1, buckets: [id] });
        return id;
      };
      const cause = { source: StatusChangeSource.API, reason: 'duplicate', at };

      const id = await billed();
      await inTransaction(id, (em, invoice) => transitionInvoice(em, invoice, S.VOID, cause));
      const voided = await loadInvoice(db, id);
      expect(voided).toMatchObject({ status: S.VOID, voidedAt: at, voidReason: 'duplicate', amountPaidMinor: 0n });
      expect(voided.paidAt ?? null).toBeNull();
      expect(await usageOf(id)).toEqual({ claims: 0, buckets: [UNBILLED_BUCKET] });
      const changes = await history(id);
      expect(changes).toEqual([expect.objectContaining({ fromStatus: S.OPEN, toStatus: S.VOID, reason: 'duplicate' })]);
      expect(await outbox(id)).toEqual([event('invoice.voided', id, S.VOID)]);
      expect(await notified(id)).toEqual([{ invoiceId: id, changeId: changes[0].id }]);

      // All of it in the caller's transaction: rolled back, nothing happened.
      const kept = await billed();
      const rolledBack = inTransaction(kept, async (em, invoice) => {
        await transitionInvoice(em, invoice, S.VOID, cause);
        throw new Error('rolled back');
      });
      await expect(rolledBack).rejects.toThrow('rolled back');
      expect((await loadInvoice(db, kept)).status).toBe(S.OPEN);
      expect(await usageOf(kept)).toEqual({ claims: 1, buckets: [kept] });
      expect(await history(kept)).toEqual([]);
      expect(await outbox(kept)).toEqual([]);
      expect(await notified(kept)).toEqual([]);
    });

    it('voids without a reason as null, and records the change with no reference', async () => {
      const { id } = await seedInvoice(db, { status: S.DRAFT });
      await inTransaction(id, (em, invoice) =>
        transitionInvoice(em, invoice, S.VOID, { source: StatusChangeSource.SYSTEM, at }),
      );
      expect((await loadInvoice(db, id)).voidReason).toBeNull();
      expect(await history(id)).toEqual([
        expect.objectContaining({ source: StatusChangeSource.SYSTEM, sourceRef: null, reason: null }),
      ]);
    });

    it('stamps finalizedAt when an invoice opens, unless Stripe finalized time was already recorded', async () => {
      const fresh = await seedInvoice(db, { status: S.DRAFT });
      await inTransaction(fresh.id, (em, invoice) =>
        transitionInvoice(em, invoice, S.OPEN, { source: StatusChangeSource.API, at }),
      );
      expect((await loadInvoice(db, fresh.id)).finalizedAt).toEqual(at);
      const stripeTime = new Date('2024-02-01T00:00:00Z');
      const fromStripe = await seedInvoice(db, { status: S.DRAFT });
      await set(fromStripe.id, { finalizedAt: stripeTime });
      await inTransaction(fromStripe.id, (em, invoice) =>
        transitionInvoice(em, invoice, S.OPEN, { source: StatusChangeSource.WEBHOOK, at }),
      );
      expect((await loadInvoice(db, fromStripe.id)).finalizedAt).toEqual(stripeTime);
    });

    it('touches no timestamp or amount that the new status does not own', async () => {
      const { id } = await seedInvoice(db, { status: S.OPEN });
      await inTransaction(id, (em, invoice) =>
        transitionInvoice(em, invoice, S.PROCESSING, { source: StatusChangeSource.API, at }),
      );
      const invoice = await loadInvoice(db, id);
      expect(invoice).toMatchObject({ status: S.PROCESSING, amountPaidMinor: 0n });
      for (const field of ['finalizedAt', 'paidAt', 'voidedAt', 'voidReason'] as const) {
        expect(invoice[field] ?? null).toBeNull();
      }
      // PROCESSING is no event for the platform; subscribers hear of it.
      expect(await outbox(id)).toEqual([]);
      const changes = await history(id);
      expect(await notified(id)).toEqual([{ invoiceId: id, changeId: changes[0].id }]);
    });

    it('dates the change now when the cause gives no time', async () => {
      const { id } = await seedInvoice(db, { status: S.OPEN });
      const before = Date.now();
      const paidAt = await inTransaction(id, async (em, invoice) => {
        await transitionInvoice(em, invoice, S.PAID, { source: StatusChangeSource.API });
        return invoice.paidAt;
      });
      const after = Date.now();
      const [{ occurredAt }] = await history(id);
      expect(occurredAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(occurredAt.getTime()).toBeLessThanOrEqual(after);
      expect(paidAt).toEqual(occurredAt);
      expect((await loadInvoice(db, id)).paidAt).toEqual(occurredAt);
    });
  });

  describe('recordCreation', () => {
    it('starts the history with the first status, from nothing, and writes invoice.created to the outbox', async () => {
      const id = await db.orm.em.fork().transactional(async (em) => {
        const invoice = newInvoice(em, S.DRAFT);
        await recordCreation(em, invoice, {
          source: StatusChangeSource.BILLING_RUN,
          ref: 'run_1',
          reason: 'monthly billing',
          at,
        });
        return invoice.id;
      });
      expect((await loadInvoice(db, id)).status).toBe(S.DRAFT);
      expect(await history(id)).toEqual([
        expect.objectContaining({
          fromStatus: null,
          toStatus: S.DRAFT,
          source: StatusChangeSource.BILLING_RUN,
          sourceRef: 'run_1',
          reason: 'monthly billing',
          occurredAt: at,
        }),
      ]);
      expect(await outbox(id)).toEqual([event('invoice.created', id, S.DRAFT)]);
      // A new invoice is no change for subscribers.
      expect(await notified(id)).toEqual([]);
    });

    it('records no reference or reason as null and dates the creation now', async () => {
      const before = Date.now();
      const id = await db.orm.em.fork().transactional(async (em) => {
        const invoice = newInvoice(em, S.DRAFT);
        await recordCreation(em, invoice, { source: StatusChangeSource.API });
        return invoice.id;
      });
      const after = Date.now();
      const [row] = await history(id);
      expect(row).toMatchObject({ source: StatusChangeSource.API, sourceRef: null, reason: null });
      expect(row.occurredAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(row.occurredAt.getTime()).toBeLessThanOrEqual(after);
    });
  });
});
