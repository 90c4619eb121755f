import type { Clock } from '../config/clock';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { WebhookEventStatus } from '../entities/enums';
import { webhookApplyDuration, webhookApplyLatency } from '../lib/metrics';
import { PollLoop } from '../lib/poll-loop';
import { readStripeEvent } from '../stripe';
import { handlerFor } from './dispatch-table';
import type { DispatchTable } from './dispatch-table';
import type { HandlerResult } from './handler.types';
import type { ClaimedEvent } from '../services/stripe-events/webhook-event-store';
import {
  boundStatements,
  claimDueEvents,
  hasDueEvents,
  markEventDone,
  recordEventFailure,
  tryLockObject,
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
 * Applies stored events. Each batch is one transaction: claim due rows (SKIP LOCKED), then for each event run its
 * handler in a savepoint and mark it done in that same savepoint, so the effect and the "processed" mark commit
 * together or not at all (applied at most once; a crash before commit leaves it pending: at least once).
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
      let deferred = 0;
      for (const event of events) {
        if (event.objectId && !(await tryLockObject(tem, event.objectId))) {
          // Another worker is applying events about this object: leave it pending, untouched, for later.
          deferred += 1;
          continue;
        }
        const started = performance.now();
        try {
          // A savepoint with a fresh identity map: a rolled-back handler leaves no stale entity behind.
          const handled = await tem.transactional(
            async (sem) => {
              const handler = handlerFor(this.handlers, event.type);
              // Read here, per event: a payload that cannot be read fails this event only, like a handler would.
              const outcome: HandlerResult = handler
                ? await handler({ em: sem, event: readStripeEvent(event.payload), log: this.log })
                : { outcome: 'ignored', detail: 'no handler for this event type' };
              await sem.flush();
              await markEventDone(sem, event.id, outcome.outcome);
              return outcome;
            },
            { clear: true },
          );
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
      return { claimed: events.length, deferred };
    });
    // Logged after the commit, so a line never claims an outcome that was rolled back.
    for (const outcome of outcomes) {
      this.logOutcome(outcome);
    }
    return result;
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
