import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../config/clock';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { WebhookEventStatus } from '../entities/enums';
import { webhookApplyDuration, webhookApplyLatency } from '../lib/metrics';
import { PollLoop } from '../lib/poll-loop';
import { readStripeEvent } from '../stripe';
import { handlerFor } from './dispatch-table';
import { webhookBatchCommitted } from './webhook-applied';
import type { DispatchTable } from './dispatch-table';
import type { HandlerResult } from './handler.types';
import { preloadInvoices } from '../services/stripe-events/apply-stripe-invoice-event.service';
import type { PreloadedInvoices } from '../services/stripe-events/apply-stripe-invoice-event.service';
import { deferStatusWrites } from '../services/invoicing/invoice-status';
import type { ClaimedEvent } from '../services/stripe-events/webhook-event-store';
import {
  boundStatements,
  claimDueEvents,
  hasDueEvents,
  markEventsDone,
  recordEventFailure,
  tryLockObjects,
} from '../services/stripe-events/webhook-event-store';
import type { WebhookOptions } from './webhook-options';
import { retryDelayMs } from './webhook-options';

type Outcome =
  | { event: ClaimedEvent; kind: 'done'; result: HandlerResult; durationMs: number }
  | { event: ClaimedEvent; kind: 'retry' | 'failed'; error: string; delayMs: number; durationMs: number };

const MAX_ERROR_LENGTH = 2000;

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

/**
 * Applies stored events. Each batch is one transaction: claim due rows (SKIP LOCKED), take their Stripe objects
 * (one statement), run each event's handler in a savepoint, then mark the applied ones done (one statement) in that
 * same transaction, so the effects and the "processed" marks commit together or not at all (applied at most once; a
 * crash before commit leaves them pending: at least once).
 * A throwing handler's savepoint is rolled back and the failure (attempt, error, next time) is written in the
 * batch transaction instead: on PGlite's single connection a second transaction could not run meanwhile.
 * Nothing but queries through the transactional manager is awaited inside the transaction.
 * Events about one Stripe object go to one worker at a time (advisory lock), so batches never deadlock.
 * Idle, it sleeps `pollIntervalMs` (the shared `PollLoop`); `wake()` (called when this instance stores an event)
 * cuts the sleep short.
 * Polls and retry times run on `clock`: a test that moves its clock decides when a retry is due.
 */
export class WebhookWorker {
  private readonly loop: PollLoop;

  constructor(
    private readonly db: Database,
    private readonly handlers: DispatchTable,
    private readonly options: WebhookOptions,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.loop = new PollLoop(
      clock,
      options,
      async () => {
        const { claimed, deferred } = await this.runOnce();
        // A full batch means more may be due: go again at once (unless it was only work another worker holds).
        return claimed >= this.options.batchSize && deferred < claimed;
      },
      (error) => this.log.error({ err: error }, 'webhook worker batch failed'),
    );
  }

  start(): void {
    if (this.options.workerEnabled) {
      this.loop.start();
    }
  }

  /** Stops polling and waits for the batch in flight to commit. */
  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** New work is waiting (an event was just stored here): skip the rest of the idle sleep. */
  wake(): void {
    this.loop.wake();
  }

  /**
   * Processes one batch of due events; returns how many were claimed and how many were left for another worker
   * (their object was busy there). For tests and operator tools.
   */
  async runOnce(): Promise<{ claimed: number; deferred: number }> {
    const now = this.clock.now();
    if (!(await hasDueEvents(this.db.orm.em.fork(), new Date(now)))) {
      return { claimed: 0, deferred: 0 };
    }
    const outcomes: Outcome[] = [];
    const result = await this.db.orm.em.fork().transactional(async (tem) => {
      await boundStatements(tem, this.options.handlerTimeoutMs);
      const events = await claimDueEvents(tem, this.options.batchSize, new Date(now));
      // The batch's objects in one statement; the events of an object another worker holds stay pending.
      const locked = await tryLockObjects(
        tem,
        events.flatMap((event) => (event.objectId ? [event.objectId] : [])),
      );
      const ready = events.filter((event) => !event.objectId || locked.has(event.objectId));
      // Another worker is applying events about the others' objects: they stay pending, untouched, for later.
      const deferred = events.length - ready.length;
      const done: Array<{ id: string; status: HandlerResult['outcome'] }> = [];
      // Optimistically the whole batch in one savepoint (applyTogether: its invoices read in one statement, its
      // changes flushed and its NOTIFYs sent once); if anything throws, that savepoint is rolled back and the batch is
      // applied again event by event below, so one failing event fails alone.
      const together = await this.applyTogether(tem, ready);
      if (together.kind === 'applied') {
        for (const outcome of together.outcomes) {
          done.push({ id: outcome.event.id, status: outcome.result.outcome });
          outcomes.push(outcome);
        }
      }
      for (const event of together.kind === 'applied' ? [] : ready) {
        const started = performance.now();
        try {
          // The event whose handler threw in the batch's savepoint fails with that error, without running twice.
          if (together.kind === 'threw' && together.event === event) {
            throw together.error;
          }
          // A savepoint with a fresh identity map: a rolled-back handler leaves no stale entity behind.
          const handled = await tem.transactional((sem) => this.apply(sem, event), { clear: true });
          done.push({ id: event.id, status: handled.outcome });
          outcomes.push({ event, kind: 'done', result: handled, durationMs: performance.now() - started });
        } catch (error) {
          const attempts = event.attempts + 1;
          const delayMs = retryDelayMs(this.options, attempts);
          const message = describeError(error);
          const status = await recordEventFailure(tem, event.id, {
            error: `attempt ${attempts}: ${message}`,
            retryAt: new Date(this.clock.now() + delayMs),
            maxAttempts: this.options.maxAttempts,
          });
          outcomes.push({
            event,
            kind: status === WebhookEventStatus.FAILED ? 'failed' : 'retry',
            error: message,
            delayMs,
            durationMs: performance.now() - started,
          });
        }
      }
      await markEventsDone(tem, done);
      return { claimed: events.length, deferred };
    });
    // Logged after the commit, so a line never claims an outcome that was rolled back.
    for (const outcome of outcomes) {
      this.logOutcome(outcome);
    }
    if (outcomes.length > 0) {
      webhookBatchCommitted.emit();
    }
    return result;
  }

  /** One event's handler on `em` (the caller's savepoint), flushed. */
  private async apply(em: EntityManager, event: ClaimedEvent): Promise<HandlerResult> {
    const outcome = await this.handle(em, event, undefined);
    await em.flush();
    return outcome;
  }

  /** One event's handler on `em`, not flushed. */
  private async handle(
    em: EntityManager,
    event: ClaimedEvent,
    preloaded: PreloadedInvoices | undefined,
  ): Promise<HandlerResult> {
    const handler = handlerFor(this.handlers, event.type);
    // Read here, per event: a payload that cannot be read fails this event only, like a handler would.
    return handler
      ? await handler({ em, event: readStripeEvent(event.payload), log: this.log, preloaded })
      : { outcome: 'ignored', detail: 'no handler for this event type' };
  }

  /**
   * Every event in one savepoint, in claim order, on one manager: the batch's invoices are read and locked in one
   * statement first (`preloadInvoices`, plain states, no entities); invoice events change them in memory and their
   * status changes are held (`deferStatusWrites`), so a run of invoice events is written by one set-based update of
   * the changed invoices (guarded by each row's version and status), one statement for the outgoing events and one for
   * the history rows and their NOTIFYs, before the savepoint is released. Another event's handler may read and write
   * by SQL and the ORM: what is held is written before it runs, its own changes are flushed after it, and the
   * invoices of the invoice events after it are read again. A guard that refuses a write throws, like any failure:
   * the savepoint is rolled back and the events are applied one by one.
   * `threw`: something threw (while an event was applied: that event and its error; else no event), and the
   * savepoint, with every effect of these events, was rolled back. `single`: one event or none, nothing gained.
   */
  private async applyTogether(
    tem: EntityManager,
    events: ClaimedEvent[],
  ): Promise<
    | { kind: 'applied'; outcomes: Array<Extract<Outcome, { kind: 'done' }>> }
    | { kind: 'threw'; event: ClaimedEvent | undefined; error: unknown }
    | { kind: 'single' }
  > {
    if (events.length < 2) {
      return { kind: 'single' };
    }
    let current: ClaimedEvent | undefined;
    try {
      const outcomes = await tem.transactional(
        async (sem) => {
          const isInvoiceEvent = (event: ClaimedEvent): boolean => event.type.startsWith('invoice.');
          const invoiceIdsFrom = (index: number): string[] =>
            events.slice(index).flatMap((event) => (isInvoiceEvent(event) && event.objectId ? [event.objectId] : []));
          let preloaded: PreloadedInvoices | undefined = await preloadInvoices(sem, invoiceIdsFrom(0));
          const applied: Array<Extract<Outcome, { kind: 'done' }>> = [];
          let held: { flush(): Promise<void> } | undefined;
          for (const [index, event] of events.entries()) {
            const started = performance.now();
            current = event;
            if (isInvoiceEvent(event)) {
              // After another event's handler (which may have changed these invoices through the ORM), read the
              // remaining invoice events' invoices again.
              preloaded ??= await preloadInvoices(sem, invoiceIdsFrom(index));
              held ??= deferStatusWrites(sem, preloaded);
            } else {
              if (held) {
                await held.flush();
                held = undefined;
              }
              preloaded = undefined;
            }
            const result = await this.handle(sem, event, preloaded);
            if (!held) {
              await sem.flush();
            }
            current = undefined;
            applied.push({ event, kind: 'done', result, durationMs: performance.now() - started });
          }
          await held?.flush();
          return applied;
        },
        { clear: true },
      );
      return { kind: 'applied', outcomes };
    } catch (error) {
      return { kind: 'threw', event: current, error };
    }
  }

  private logOutcome(outcome: Outcome): void {
    const type = outcome.event.type;
    webhookApplyDuration.observe({ type, outcome: outcome.kind }, outcome.durationMs / 1000);
    if (outcome.kind === 'done') {
      webhookApplyLatency.observe({ type }, Math.max(0, Date.now() - outcome.event.receivedAt.getTime()) / 1000);
    }
    const base = {
      eventId: outcome.event.id,
      type: outcome.event.type,
      attempt: outcome.event.attempts + 1,
      durationMs: Math.round(outcome.durationMs * 10) / 10,
      // Wall time against the database's received_at, whatever clock drives the worker: how long it really waited.
      latencyMs: Date.now() - outcome.event.receivedAt.getTime(),
    };
    if (outcome.kind === 'done') {
      this.log.info(
        { ...base, outcome: outcome.result.outcome, detail: outcome.result.detail },
        'webhook event handled',
      );
    } else if (outcome.kind === 'retry') {
      this.log.warn(
        { ...base, outcome: 'retry', error: outcome.error, retryInMs: outcome.delayMs },
        'webhook event failed; will retry',
      );
    } else {
      this.log.error({ ...base, outcome: 'failed', error: outcome.error }, 'webhook event failed permanently');
    }
  }
}
