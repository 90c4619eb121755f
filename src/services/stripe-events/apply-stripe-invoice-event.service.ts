import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import type { RemoteEvent, RemoteInvoice } from '../../stripe';
import { pathTo, transitionInvoice } from '../invoicing/invoice-status';
import type { HeldInvoiceStates, StatusCause } from '../invoicing/invoice-status';
import { lockInvoiceStates } from '../invoicing/invoice-repository';
import type { InvoiceState, LockedInvoiceState } from '../invoicing/invoice-repository';
import { isUuid } from '../shared/uuid';

/**
 * The event is about one of our invoices, but its row is not committed yet (the webhook beat our own API
 * response). Thrown so the worker retries later instead of dropping the event.
 */
export class InvoiceNotYetStoredError extends Error {
  constructor(invoiceId: string, stripeInvoiceId: string) {
    super(`Invoice ${invoiceId} (Stripe ${stripeInvoiceId}) is not stored yet; the event will be retried`);
    this.name = 'InvoiceNotYetStoredError';
  }
}

/** What an invoice event means for our invoice. */
export type InvoiceEventEffect =
  /** `invoice.finalized` / `invoice.sent`: DRAFT → OPEN, and the hosted page, PDF and due date. */
  | { kind: 'open'; sent: boolean }
  /** Payment and lifecycle outcomes: move to `to` when the transition table allows it. */
  | { kind: 'status'; to: InvoiceStatus }
  /** `invoice.updated`: refresh URLs and amounts, never the status. */
  | { kind: 'refresh' };

/** Which event it was and when Stripe made it: the order of events is decided by `created`. */
export type StripeEventRef = Pick<RemoteEvent, 'id' | 'type' | 'created'>;

export interface ApplyInvoiceEventResult {
  outcome: 'processed' | 'ignored';
  detail: string;
  invoiceId?: string;
  /** True when the status changed (one or more history rows). */
  statusChanged: boolean;
}

/**
 * Applies a Stripe invoice event to our invoice, inside the caller's transaction (the webhook worker's).
 * Forward-only: a status moves only along the transition table, through `transitionInvoice` (history + NOTIFY).
 * An event older than the last one applied does not move the status to a state the invoice may leave again
 * (PAYMENT_FAILED, REQUIRES_ACTION, UNCOLLECTIBLE): that could undo a later change. Final facts still apply
 * whatever their age — PAID, VOID, and a DRAFT's finalization — because nothing can come after them that they
 * would undo: a payment whose events arrive after a newer `invoice.updated` is not lost. At an equal `created`
 * second (Stripe's resolution) the transition table decides, so `payment_failed` then `paid` in the same second
 * ends PAID and the reverse order does not regress. Likewise an event about an earlier payment attempt (Stripe's
 * `attempt_count` lower than one already seen) moves no status: a decline delivered after the next attempt asked
 * for 3-D Secure leaves the invoice REQUIRES_ACTION. Invoices we did not create (no metadata of ours) are ignored.
 */
export async function applyStripeInvoiceEvent(
  em: EntityManager,
  input: {
    event: StripeEventRef;
    remote: RemoteInvoice;
    effect: InvoiceEventEffect;
    /** The batch's invoices, read and locked together by `preloadInvoices` on this `em`. */
    preloaded?: PreloadedInvoices;
  },
): Promise<ApplyInvoiceEventResult> {
  const { event, remote, effect } = input;
  const found = await findOurInvoice(em, remote, input.preloaded);
  if (typeof found === 'string') {
    return { outcome: 'ignored', detail: found, statusChanged: false };
  }
  const invoice = found;
  const eventAt = event.created;
  const older = !!invoice.lastStripeEventAt && eventAt.getTime() < invoice.lastStripeEventAt.getTime();
  // An earlier attempt's failure (or 3-D Secure request) delivered after a newer attempt was made: the newer attempt
  // decides, whatever the order of arrival or the events' seconds. Stripe counts attempts on the invoice.
  const staleAttempt = remote.attemptCount < invoice.stripeAttemptCount;
  invoice.stripeAttemptCount = Math.max(invoice.stripeAttemptCount, remote.attemptCount);
  const cause: StatusCause = { source: StatusChangeSource.WEBHOOK, ref: event.id, reason: `Stripe ${event.type}` };

  // Older events only fill what is still missing; newer ones overwrite.
  refreshDetails(invoice, remote, { overwrite: !older });

  let statusChanged = false;
  let detail: string;
  if (effect.kind === 'refresh') {
    detail = 'details refreshed';
  } else if (older && !isFinalFact(effect)) {
    detail = `older than the last applied event ${invoice.lastStripeEventId ?? ''}; status kept`.trim();
  } else if (staleAttempt && !isFinalFact(effect)) {
    detail = `about payment attempt ${remote.attemptCount}, the invoice has had ${invoice.stripeAttemptCount}; status kept`;
  } else if (effect.kind === 'open') {
    if (effect.sent && !invoice.sentAt) {
      invoice.sentAt = eventAt;
    }
    if (invoice.status === InvoiceStatus.DRAFT) {
      statusChanged = await transitionInvoice(em, invoice, InvoiceStatus.OPEN, cause);
      detail = 'opened';
    } else {
      detail = `already ${invoice.status}`;
    }
  } else {
    const to = effect.to;
    if (invoice.status === to) {
      detail = `already ${to}`;
    } else {
      // Stripe only pays, fails or voids a finalized invoice: if our row still says DRAFT, the finalization is
      // implied (its own event may come later or never), so open it first rather than refuse a forward move.
      if (invoice.status === InvoiceStatus.DRAFT && to !== InvoiceStatus.VOID && remote.status !== 'draft') {
        statusChanged = await transitionInvoice(em, invoice, InvoiceStatus.OPEN, {
          ...cause,
          reason: `Stripe ${event.type} (finalization implied)`,
        });
      }
      const moves = pathTo(invoice.status, to);
      if (moves.length > 0) {
        for (const move of moves) {
          statusChanged = (await transitionInvoice(em, invoice, move, cause)) || statusChanged;
        }
        detail = `moved to ${to}`;
        if (to === InvoiceStatus.PAID) {
          invoice.amountPaidMinor = remote.amountPaidMinor;
          invoice.paidAt = remote.paidAt ?? eventAt;
        }
      } else {
        detail = `${invoice.status} cannot move to ${to}; skipped`;
      }
    }
  }
  if (!older) {
    invoice.lastStripeEventAt = eventAt;
    invoice.lastStripeEventId = event.id;
  }
  // Not flushed here: the caller flushes (the webhook worker once per batch, so a batch's invoices are updated in
  // one statement).
  return { outcome: 'processed', detail, invoiceId: invoice.id, statusChanged };
}

/** Effects that no later event can undo, so they apply even when older than the last applied event. */
function isFinalFact(effect: InvoiceEventEffect): boolean {
  return (
    effect.kind === 'open' ||
    (effect.kind === 'status' && (effect.to === InvoiceStatus.PAID || effect.to === InvoiceStatus.VOID))
  );
}

/**
 * The invoices of a batch of events, by Stripe invoice id, each locked for the caller's transaction: what
 * `applyStripeInvoiceEvent` would otherwise read (and lock) event by event. They are read as plain states (no
 * entities: hydration and the flush's change comparison were most of a batch's CPU), changed in memory by the batch's
 * events and written back by `deferStatusWrites(em, preloaded)` in one statement.
 */
export class PreloadedInvoices implements HeldInvoiceStates {
  constructor(
    private readonly byStripeId: Map<string, InvoiceState | null>,
    private readonly locked: readonly LockedInvoiceState[],
  ) {}

  /**
   * The locked invoice's state, changed in place by the batch; null when no invoice has that Stripe id; undefined when
   * not preloaded (look it up).
   */
  get(stripeInvoiceId: string): InvoiceState | null | undefined {
    return this.byStripeId.get(stripeInvoiceId);
  }

  /** An invoice looked up (or linked to its Stripe invoice) during the batch: later events about it find it here. */
  link(stripeInvoiceId: string, invoice: InvoiceState): void {
    this.byStripeId.set(stripeInvoiceId, invoice);
  }

  states(): Iterable<LockedInvoiceState> {
    return this.locked;
  }
}

/**
 * Reads and locks the invoices with these Stripe ids for `em`'s transaction in one statement (instead of one per
 * event). A row another transaction holds right now is skipped (SKIP LOCKED) and left out: its event looks it up
 * itself, waiting for the lock as it always did. Ids no invoice has are recorded as such (a second statement, only
 * when some id was not found), so their events need no query either.
 */
export async function preloadInvoices(
  em: EntityManager,
  stripeInvoiceIds: readonly string[],
): Promise<PreloadedInvoices> {
  const ids = [...new Set(stripeInvoiceIds)];
  const byStripeId = new Map<string, InvoiceState | null>();
  if (ids.length === 0) {
    return new PreloadedInvoices(byStripeId, []);
  }
  const locked = await lockInvoiceStates(em, ids);
  for (const { state } of locked) {
    if (state.stripeInvoiceId) {
      byStripeId.set(state.stripeInvoiceId, state);
    }
  }
  const missing = ids.filter((id) => !byStripeId.has(id));
  if (missing.length > 0) {
    const held = await em.execute<Array<{ stripe_invoice_id: string }>>(
      `select stripe_invoice_id from invoices
       where stripe_invoice_id in (select jsonb_array_elements_text(?::jsonb))`,
      [JSON.stringify(missing)],
    );
    const exists = new Set(held.map((row) => row.stripe_invoice_id));
    for (const id of missing) {
      if (!exists.has(id)) {
        byStripeId.set(id, null);
      }
    }
  }
  return new PreloadedInvoices(byStripeId, locked);
}

/** Our invoice, locked for this transaction; or the reason the event is not ours (a string). */
async function findOurInvoice(
  em: EntityManager,
  remote: RemoteInvoice,
  preloaded: PreloadedInvoices | undefined,
): Promise<InvoiceState | string> {
  // The row lock serialises two workers applying events about the same invoice, and the API's own updates.
  const lock = { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } as const;
  const known = preloaded?.get(remote.id);
  const byStripeId = known === undefined ? await em.findOne(Invoice, { stripeInvoiceId: remote.id }, lock) : known;
  if (byStripeId) {
    if (known === undefined) {
      // Its later events in the batch change this entity (flushed by the batch), not a fresh copy.
      preloaded?.link(remote.id, byStripeId);
    }
    return byStripeId;
  }
  const ourId = remote.ours.invoiceId;
  if (!ourId) {
    return 'not an AgentHub invoice (no agenthub_invoice_id metadata)';
  }
  if (!isUuid(ourId)) {
    return 'agenthub_invoice_id metadata is not an invoice id';
  }
  const byOurId = await em.findOne(Invoice, { id: ourId }, lock);
  if (!byOurId) {
    throw new InvoiceNotYetStoredError(ourId, remote.id);
  }
  if (byOurId.stripeInvoiceId && byOurId.stripeInvoiceId !== remote.id) {
    return `invoice ${ourId} is linked to another Stripe invoice`;
  }
  // The webhook arrived before our API stored the Stripe id: link it now (the API writes the same value).
  byOurId.stripeInvoiceId = remote.id;
  preloaded?.link(remote.id, byOurId);
  return byOurId;
}

function refreshDetails(invoice: InvoiceState, remote: RemoteInvoice, options: { overwrite: boolean }): void {
  const set = <K extends 'paymentUrl' | 'pdfUrl' | 'dueDate'>(key: K, value: InvoiceState[K]): void => {
    if (value !== undefined && value !== null && (options.overwrite || !invoice[key])) {
      invoice[key] = value;
    }
  };
  set('paymentUrl', remote.hostedInvoiceUrl);
  set('pdfUrl', remote.pdfUrl);
  set('dueDate', remote.dueDate);
  // Stripe's amount_paid only grows; never lower ours from an older snapshot.
  if (remote.amountPaidMinor > invoice.amountPaidMinor) {
    invoice.amountPaidMinor = remote.amountPaidMinor;
  }
  if (remote.finalizedAt && !invoice.finalizedAt) {
    invoice.finalizedAt = remote.finalizedAt;
  }
}
