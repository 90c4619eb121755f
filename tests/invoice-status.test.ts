import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice, InvoiceStatusChange } from '../src/entities';
import { InvoiceStatus, StatusChangeSource } from '../src/entities/enums';
import { UNBILLED_BUCKET } from '../src/entities/usage-rollup.entity';
import {
  InvalidTransitionError,
  PAYABLE,
  TRANSITIONS,
  canTransition,
  isTerminal,
  pathTo,
  recordCreation,
  transitionInvoice,
} from '../src/services/invoicing/invoice-status';

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

/**
 * Records what transitionInvoice asks of its EntityManager, in order. `flush` gives the history row its id as the
 * database would, so the NOTIFY payload shows whether it was sent after the row was written.
 */
class RecordingEntityManager {
  readonly calls: string[] = [];
  readonly created: { entity: unknown; row: Record<string, unknown> }[] = [];
  readonly statements: [string, unknown[]][] = [];

  create(entity: unknown, data: Record<string, unknown>): Record<string, unknown> {
    const row = { ...data };
    this.calls.push('create');
    this.created.push({ entity, row });
    return row;
  }

  async flush(): Promise<void> {
    this.calls.push('flush');
    this.created.forEach(({ row }, index) => {
      row.id ??= String(index + 1);
    });
  }

  async execute(sql: string, params: unknown[]): Promise<unknown[]> {
    this.calls.push('execute');
    this.statements.push([sql, params]);
    return [];
  }
}

/** An entity as the ORM would hand it over (not flushed anywhere: the fake manager records what is written). */
const invoiceIn = (status: InvoiceStatus, extra: Partial<Invoice> = {}): Invoice =>
  Object.assign(new Invoice(), {
    id: 'inv_1',
    status,
    totalMinor: 2550n,
    amountPaidMinor: 0n,
    amountCreditedMinor: 0n,
    ...extra,
  });

const at = new Date('2024-02-03T04:05:06Z');

/** The NOTIFY every committed change sends: the channel every instance LISTENs on, and ids only. */
const notify = (changeId: string): [unknown, unknown[]] => [
  expect.stringContaining('pg_notify'),
  ['invoice_status_changed', JSON.stringify({ invoiceId: 'inv_1', changeId })],
];

/** The change's outgoing webhook event, written to the outbox in the same transaction (before the NOTIFY). */
const outbox = (type: string): [unknown, unknown[]] => [
  expect.stringContaining('insert into outgoing_events'),
  [expect.stringMatching(new RegExp(`^\\[\\{"message_id":"msg_\\w+","type":"${type}","invoice_id":"inv_1",`))],
];

describe('transitionInvoice', () => {
  it('moves along the table, appends the history row, then notifies with the written row', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.OPEN);
    const cause = { source: StatusChangeSource.WEBHOOK, ref: 'evt_1', reason: 'invoice.paid', at };
    await expect(transitionInvoice(em as unknown as EntityManager, invoice, S.PAID, cause)).resolves.toBe(true);
    expect(invoice).toMatchObject({ status: S.PAID, paidAt: at, amountPaidMinor: 2550n });
    // A credit note before payment lowered what was due: the card paid the rest.
    const credited = invoiceIn(S.OPEN, { amountCreditedMinor: 550n });
    await transitionInvoice(new RecordingEntityManager() as unknown as EntityManager, credited, S.PAID, cause);
    expect(credited.amountPaidMinor).toBe(2000n);
    expect(em.created).toEqual([
      {
        entity: InvoiceStatusChange,
        row: {
          id: '1',
          invoice,
          fromStatus: S.OPEN,
          toStatus: S.PAID,
          source: StatusChangeSource.WEBHOOK,
          sourceRef: 'evt_1',
          reason: 'invoice.paid',
          occurredAt: at,
        },
      },
    ]);
    expect(em.calls).toEqual(['create', 'flush', 'execute', 'execute']);
    expect(em.statements).toEqual([outbox('invoice.paid'), notify('1')]);
  });

  it('is a no-op for the status the invoice already has (a repeated webhook or retry)', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.PAID, { paidAt: at, amountPaidMinor: 2550n });
    const cause = { source: StatusChangeSource.WEBHOOK, at: new Date('2024-03-01T00:00:00Z') };
    await expect(transitionInvoice(em as unknown as EntityManager, invoice, S.PAID, cause)).resolves.toBe(false);
    expect(invoice.paidAt).toBe(at);
    expect(em.calls).toEqual([]);
  });

  it('refuses a move the table forbids and changes nothing', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.PAID, { paidAt: at });
    const attempt = transitionInvoice(em as unknown as EntityManager, invoice, S.OPEN, {
      source: StatusChangeSource.API,
    });
    await expect(attempt).rejects.toThrow(new InvalidTransitionError(S.PAID, S.OPEN));
    await expect(attempt).rejects.toMatchObject({
      name: 'InvalidTransitionError',
      message: 'Invoice cannot move from PAID to OPEN',
      from: S.PAID,
      to: S.OPEN,
    });
    expect(invoice.status).toBe(S.PAID);
    expect(em.calls).toEqual([]);
  });

  it('voids with the reason and releases the invoice usage before notifying, in the same transaction', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.OPEN);
    await transitionInvoice(em as unknown as EntityManager, invoice, S.VOID, {
      source: StatusChangeSource.API,
      reason: 'duplicate',
      at,
    });
    expect(invoice).toMatchObject({ status: S.VOID, voidedAt: at, voidReason: 'duplicate', amountPaidMinor: 0n });
    expect(invoice.paidAt).toBeUndefined();
    expect(em.calls).toEqual(['create', 'flush', 'execute', 'execute', 'execute']);
    expect(em.statements).toEqual([
      [
        expect.stringContaining('delete from usage_billing_claims where invoice_id = ?'),
        ['inv_1', 'inv_1', 'inv_1', UNBILLED_BUCKET],
      ],
      outbox('invoice.voided'),
      notify('1'),
    ]);
  });

  it('voids without a reason as null, and records the change with no reference', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.DRAFT);
    await transitionInvoice(em as unknown as EntityManager, invoice, S.VOID, { source: StatusChangeSource.SYSTEM, at });
    expect(invoice.voidReason).toBeNull();
    expect(em.created[0].row).toMatchObject({ sourceRef: null, reason: null });
  });

  it('stamps finalizedAt when an invoice opens, unless Stripe finalized time was already recorded', async () => {
    const em = new RecordingEntityManager();
    const fresh = invoiceIn(S.DRAFT);
    await transitionInvoice(em as unknown as EntityManager, fresh, S.OPEN, { source: StatusChangeSource.API, at });
    expect(fresh.finalizedAt).toBe(at);
    const stripeTime = new Date('2024-02-01T00:00:00Z');
    const fromStripe = invoiceIn(S.DRAFT, { finalizedAt: stripeTime });
    await transitionInvoice(em as unknown as EntityManager, fromStripe, S.OPEN, {
      source: StatusChangeSource.WEBHOOK,
      at,
    });
    expect(fromStripe.finalizedAt).toBe(stripeTime);
  });

  it('touches no timestamp or amount that the new status does not own', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.OPEN);
    await transitionInvoice(em as unknown as EntityManager, invoice, S.PROCESSING, {
      source: StatusChangeSource.API,
      at,
    });
    expect(invoice).toMatchObject({ status: S.PROCESSING, amountPaidMinor: 0n });
    for (const field of ['finalizedAt', 'paidAt', 'voidedAt', 'voidReason'] as const) {
      expect(invoice[field]).toBeUndefined();
    }
    expect(em.statements).toEqual([notify('1')]);
  });

  it('dates the change now when the cause gives no time', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.OPEN);
    const before = Date.now();
    await transitionInvoice(em as unknown as EntityManager, invoice, S.PAID, { source: StatusChangeSource.API });
    const occurredAt = em.created[0].row.occurredAt as Date;
    expect(occurredAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(occurredAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(invoice.paidAt).toBe(occurredAt);
  });
});

describe('recordCreation', () => {
  it('starts the history with the first status, from nothing, and writes invoice.created to the outbox', async () => {
    const em = new RecordingEntityManager();
    const invoice = invoiceIn(S.DRAFT);
    await recordCreation(em as unknown as EntityManager, invoice, {
      source: StatusChangeSource.BILLING_RUN,
      ref: 'run_1',
      reason: 'monthly billing',
      at,
    });
    expect(em.created).toEqual([
      {
        entity: InvoiceStatusChange,
        row: {
          id: '1',
          invoice,
          fromStatus: null,
          toStatus: S.DRAFT,
          source: StatusChangeSource.BILLING_RUN,
          sourceRef: 'run_1',
          reason: 'monthly billing',
          occurredAt: at,
        },
      },
    ]);
    expect(em.calls).toEqual(['create', 'flush', 'execute']);
    expect(em.statements).toEqual([outbox('invoice.created')]);
  });

  it('records no reference or reason as null and dates the creation now', async () => {
    const em = new RecordingEntityManager();
    const before = Date.now();
    await recordCreation(em as unknown as EntityManager, invoiceIn(S.DRAFT), { source: StatusChangeSource.API });
    const { row } = em.created[0];
    expect(row).toMatchObject({ source: StatusChangeSource.API, sourceRef: null, reason: null });
    expect((row.occurredAt as Date).getTime()).toBeGreaterThanOrEqual(before);
    expect((row.occurredAt as Date).getTime()).toBeLessThanOrEqual(Date.now());
  });
});
