import type { EntityManager } from '@mikro-orm/postgresql';
import { InvoiceStatusChange } from '../../entities';
import type { Invoice } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import { invoiceStatusEvent, recordInvoiceStatusEvents } from '../outgoing-webhooks/outbox';
import type { InvoiceStatusEvent } from '../outgoing-webhooks/outbox';
import { clearPaymentError } from '../payments/payment-error';
import { unbillUsageOfInvoice } from '../usage/usage-repository';
import { stateChanged, writeInvoiceStates } from './invoice-repository';
import type { InvoiceState, LockedInvoiceState } from './invoice-repository';

const S = InvoiceStatus;

/** The one transition table (docs/architecture.md, invariant 2). PAID and VOID are terminal. */
export const TRANSITIONS: Readonly<Record<InvoiceStatus, readonly InvoiceStatus[]>> = {
  [S.DRAFT]: [S.OPEN, S.VOID],
  [S.OPEN]: [S.PROCESSING, S.REQUIRES_ACTION, S.PAYMENT_FAILED, S.PAID, S.VOID, S.UNCOLLECTIBLE],
  [S.PROCESSING]: [S.PAID, S.PAYMENT_FAILED, S.REQUIRES_ACTION],
  // UNCOLLECTIBLE: the customer never authenticated the last payment asked of them (dunning's final action, or the
  // Stripe Dashboard); Stripe marks an open invoice uncollectible whatever its PaymentIntent awaits.
  [S.REQUIRES_ACTION]: [S.PROCESSING, S.PAID, S.PAYMENT_FAILED, S.VOID, S.UNCOLLECTIBLE],
  [S.PAYMENT_FAILED]: [S.PROCESSING, S.REQUIRES_ACTION, S.PAID, S.VOID, S.UNCOLLECTIBLE],
  [S.UNCOLLECTIBLE]: [S.PAID, S.VOID],
  [S.PAID]: [],
  [S.VOID]: [],
};

export function canTransition(from: InvoiceStatus, to: InvoiceStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * The moves that take an invoice from `from` to `to` along the table: the direct one, or, when Stripe has voided an
 * invoice whose payment outcome we never learned (PROCESSING), first PAYMENT_FAILED (a void invoice charged nothing),
 * then VOID. Empty when `to` cannot be reached.
 */
export function pathTo(from: InvoiceStatus, to: InvoiceStatus): InvoiceStatus[] {
  if (canTransition(from, to)) {
    return [to];
  }
  if (from === S.PROCESSING && to === S.VOID) {
    return [S.PAYMENT_FAILED, S.VOID];
  }
  return [];
}

export function isTerminal(status: InvoiceStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

/**
 * Statuses from which a payment may be attempted: every status the table lets move to PAID except PROCESSING (an
 * attempt's outcome is pending; the payment service decides about it). Stripe pays an uncollectible invoice too.
 */
export const PAYABLE: readonly InvoiceStatus[] = [S.OPEN, S.PAYMENT_FAILED, S.REQUIRES_ACTION, S.UNCOLLECTIBLE];

/** Who or what caused a change: kept in the history, sent to subscribers. */
export interface StatusCause {
  source: StatusChangeSource;
  /** The caller's user id, the Stripe event id, the reconciliation run… */
  ref?: string | null;
  reason?: string | null;
  at?: Date;
}

export const STATUS_CHANNEL = 'invoice_status_changed';

/** The NOTIFY payload: ids only (docs/architecture.md); listeners read the rest from the database. */
export interface StatusNotification {
  invoiceId: string;
  changeId: string;
}

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: InvoiceStatus,
    readonly to: InvoiceStatus,
  ) {
    super(`Invoice cannot move from ${from} to ${to}`);
    this.name = 'InvalidTransitionError';
  }
}

/**
 * The one function that changes an invoice's status. Must run inside the caller's transaction (`em` is the
 * transactional manager): it updates the invoice, appends the history row and sends NOTIFY on the same connection,
 * so subscribers hear of a change only when it commits; the change's outgoing webhook event (`invoice.paid`, …) is
 * written to the outbox in that transaction too. Returns false when the invoice already has that status
 * (a repeated webhook or retry is a no-op); throws InvalidTransitionError for a move the table forbids.
 * Moving to VOID releases the invoice's usage in the same transaction.
 */
export async function transitionInvoice(
  em: EntityManager,
  invoice: InvoiceState,
  to: InvoiceStatus,
  cause: StatusCause,
): Promise<boolean> {
  requireTransaction(em);
  const from = invoice.status;
  if (from === to) {
    return false;
  }
  if (!canTransition(from, to)) {
    throw new InvalidTransitionError(from, to);
  }
  const at = cause.at ?? new Date();
  invoice.status = to;
  if (to === S.OPEN && !invoice.finalizedAt) {
    invoice.finalizedAt = at;
  }
  if (to === S.PAID) {
    invoice.paidAt = at;
    // Credit notes issued before payment lowered what was due: the card paid the rest.
    invoice.amountPaidMinor = invoice.totalMinor - invoice.amountCreditedMinor;
    clearPaymentError(invoice);
  }
  if (to === S.VOID) {
    invoice.voidedAt = at;
    invoice.voidReason = cause.reason ?? invoice.voidReason ?? null;
  }
  await writeHistoryEntry(em, invoice, from, { ...cause, at }, { outgoing: true, releaseUsage: to === S.VOID });
  return true;
}

/**
 * A money event that keeps the status (a refund, a credit note): one history row from the status to itself with the
 * reason, and NOTIFY, so it is listed in the history and pushed to subscribers like a change. Same transaction rules
 * as `transitionInvoice`.
 */
export async function recordInvoiceEvent(em: EntityManager, invoice: InvoiceState, cause: StatusCause): Promise<void> {
  requireTransaction(em);
  await writeHistoryEntry(em, invoice, invoice.status, cause, { outgoing: false, releaseUsage: false });
}

/**
 * Refuses, before anything changes, a status change outside a transaction: the invoice's change, its history row, its
 * outgoing event and its NOTIFY commit together or not at all.
 */
function requireTransaction(em: EntityManager): void {
  if (!em.isInTransaction()) {
    throw new Error("An invoice's status changes only inside the caller's transaction");
  }
}

/**
 * A history row as `InvoiceStatusChange`'s properties, its invoice named by id (whatever shape the invoice came in):
 * what `writeHistoryRows` writes in the columns the entity maps them to.
 */
type HistoryRow = Required<
  Pick<InvoiceStatusChange, 'fromStatus' | 'toStatus' | 'source' | 'sourceRef' | 'reason' | 'occurredAt'>
> & { invoice: string };

/** A history entry made but not yet written (held until `flush()` of a `deferStatusWrites`, see there). */
interface HeldEntry {
  change: HistoryRow;
  event: InvoiceStatusEvent | null;
}

/** Entries held back per transactional manager (see `deferStatusWrites`). */
const held = new WeakMap<EntityManager, HeldEntry[]>();

/**
 * The one writer of a history entry that subscribers hear of: the caller's changes flushed (the invoice's, or a new
 * invoice itself), then what the same transaction must hold before anyone is told (released usage for a VOID, the
 * change's outgoing event, taken as the invoice is now), then the row (from `from` to the invoice's status now) and
 * its NOTIFY on the same connection, delivered only if the transaction commits: `writeHistoryEntries`, as
 * `deferStatusWrites` does. Under `deferStatusWrites` the row, the event and the NOTIFY are held for its `flush()`
 * instead (the usage is released at once: it reads nothing the held writes change).
 */
async function writeHistoryEntry(
  em: EntityManager,
  invoice: InvoiceState,
  from: InvoiceStatus,
  cause: StatusCause,
  effects: { outgoing: boolean; releaseUsage: boolean },
): Promise<void> {
  const at = cause.at ?? new Date();
  const event = effects.outgoing ? invoiceStatusEvent(invoice, { from, reason: cause.reason ?? null, at }) : null;
  const change: HistoryRow = {
    invoice: invoice.id,
    fromStatus: from,
    toStatus: invoice.status,
    source: cause.source,
    sourceRef: cause.ref ?? null,
    reason: cause.reason ?? null,
    occurredAt: at,
  };
  const queue = held.get(em);
  if (!queue) {
    // The caller's changes first: the invoice's, or the invoice itself when it is new (the row names it by id).
    await em.flush();
  }
  if (effects.releaseUsage) {
    // A void invoice bills nothing: its usage (and late usage it carried) is unbilled again for the next invoice,
    // whoever voided it (our cancel, the Stripe dashboard through a webhook, reconciliation).
    await unbillUsageOfInvoice(em, invoice.id);
  }
  if (queue) {
    queue.push({ change, event });
  } else {
    await writeHistoryEntries(em, [{ change, event }]);
  }
}

/** Writes history entries, in order: their outgoing events in one statement, their rows and NOTIFYs in one. */
async function writeHistoryEntries(em: EntityManager, entries: readonly HeldEntry[]): Promise<void> {
  await recordInvoiceStatusEvents(
    em,
    entries.flatMap((entry) => entry.event ?? []),
  );
  await writeHistoryRows(
    em,
    entries.map((entry) => entry.change),
  );
}

/**
 * Inserts history rows and sends their NOTIFYs (delivered if the transaction commits) in one statement, whatever
 * their number, in the columns (and types) `InvoiceStatusChange` maps the rows' properties to (its metadata): the
 * entity is the one definition of the table. Ids follow the order of the rows (one insert, ordered), and so do the
 * NOTIFYs (sent from an ordered, fenced subquery: a volatile function in an outer select list could run before the
 * sort).
 */
async function writeHistoryRows(em: EntityManager, changes: readonly HistoryRow[]): Promise<void> {
  if (changes.length === 0) {
    return;
  }
  const meta = em.getMetadata().get(InvoiceStatusChange);
  const id = meta.getPrimaryProp().fieldNames[0];
  const invoiceId = meta.properties.invoice.fieldNames[0];
  const fields = (Object.keys(changes[0]) as Array<keyof HistoryRow>).map((name) => ({
    name,
    column: meta.properties[name].fieldNames[0],
    type: meta.properties[name].columnTypes[0],
  }));
  const columns = fields.map((c) => c.column).join(', ');
  const rows = changes.map((change) => Object.fromEntries(fields.map((c) => [c.column, change[c.name]])));
  await em.execute(
    `with change as (
       insert into ${meta.tableName} (${columns})
       select ${fields.map((c) => `d.${c.column}`).join(', ')}
       from rows from (jsonb_to_recordset(?::jsonb) as (${fields.map((c) => `${c.column} ${c.type}`).join(', ')}))
         with ordinality as d(${columns}, n)
       order by d.n
       returning ${id}, ${invoiceId})
     select pg_notify(?, json_build_object('invoiceId', c.${invoiceId}, 'changeId', c.${id}::text)::text)
     from (select ${id}, ${invoiceId} from change order by ${id} offset 0) c`,
    [JSON.stringify(rows), STATUS_CHANNEL],
  );
}

/** A batch's invoice states changed in memory, written by `flush()` of a `deferStatusWrites` (see there). */
export interface HeldInvoiceStates {
  /** The states read, locked, for this transaction; those changed are written. */
  states(): Iterable<LockedInvoiceState>;
}

/**
 * The state of an invoice changed in a batch was written by something else in the transaction meanwhile (the
 * optimistic guard of `writeInvoiceStates` refused it): the batch's savepoint must be rolled back.
 */
export class InvoiceStateConflictError extends Error {
  constructor(expected: number, written: number) {
    super(`${expected - written} of ${expected} invoices changed under the batch; not written`);
    this.name = 'InvoiceStateConflictError';
  }
}

/**
 * Until `flush()`, status changes and history entries made through `em` (exactly this manager) are held instead of
 * written one by one: each entry's history row, its outgoing event (taken when it was made) and its NOTIFY wait.
 * `flush()` writes them in order in a few statements whatever their number: `em.flush()` (entities changed through
 * the ORM), the changed `invoices` states (one set-based update with an optimistic guard; `InvoiceStateConflictError`
 * when it refuses any), the outgoing events in one statement, the history rows and their NOTIFYs in one; in the same
 * transaction, so nothing is told before it commits (PostgreSQL delivers a transaction's notifications at commit
 * anyway), and it ends the holding. While held, nothing written by SQL in that transaction may need what is held (the
 * webhook worker holds only across invoice events, whose handlers write through the states alone). If the transaction
 * (or savepoint) is rolled back instead, drop the handle: nothing was written.
 */
export function deferStatusWrites(em: EntityManager, invoices?: HeldInvoiceStates): { flush(): Promise<void> } {
  const queue: HeldEntry[] = [];
  held.set(em, queue);
  return {
    flush: async () => {
      held.delete(em);
      await em.flush();
      const changed = [...(invoices?.states() ?? [])].filter(stateChanged);
      const written = await writeInvoiceStates(em, changed);
      if (written !== changed.length) {
        throw new InvoiceStateConflictError(changed.length, written);
      }
      await writeHistoryEntries(em, queue);
    },
  };
}

/**
 * Records the first status of a new invoice (DRAFT) in the history, so the history is complete, and its
 * `invoice.created` event in the outbox (flushing the caller's transaction to do so).
 */
export async function recordCreation(em: EntityManager, invoice: Invoice, cause: StatusCause): Promise<void> {
  const at = cause.at ?? new Date();
  em.create(InvoiceStatusChange, {
    invoice,
    fromStatus: null,
    toStatus: invoice.status,
    source: cause.source ?? StatusChangeSource.API,
    sourceRef: cause.ref ?? null,
    reason: cause.reason ?? null,
    occurredAt: at,
  });
  await em.flush();
  await recordInvoiceStatusEvents(
    em,
    [invoiceStatusEvent(invoice, { from: null, reason: cause.reason ?? null, at })].flatMap((e) => e ?? []),
  );
}
