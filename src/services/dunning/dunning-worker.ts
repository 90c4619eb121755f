import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { PollLoop } from '../../lib/poll-loop';
import type { Clock } from '../../config/clock';
import type { AppConfig } from '../../config/config';
import type { Logger } from '../../config/logger';
import type { StripeGateway } from '../../stripe';
import type { DunningPolicy } from './dunning-policy';
import { claimDueSteps, enrollInvoices, leaveSettledInvoices } from './dunning-store';
import { runDunningStep } from './run-dunning-step.service';
import type { DunningStepResult } from './run-dunning-step.service';

export interface DunningWorkerOptions {
  em: EntityManager;
  gateway: StripeGateway;
  config: Pick<AppConfig, 'billing'>;
  /** Null: dunning is off (`DUNNING_RETRY_DAYS` unset); the worker does nothing. */
  policy: DunningPolicy | null;
  clock: Clock;
  log?: Logger;
  /** This instance's name on its leases; default a random one. */
  instance?: string;
}

export interface DunningCheck {
  /** The clock's time when the check began: it ran every step due by then. */
  at: Date;
  enrolled: number;
  left: number;
  steps: DunningStepResult[];
}

export interface DunningWorker {
  /**
   * Runs every step due at the clock's time now (enrols new invoices and ends dunning of settled ones first). A call
   * while a check is under way waits for it and then checks again, so it always sees the clock as it is at the call.
   */
  tick(): Promise<DunningCheck>;
  /** Starts checking every `policy.intervalMs` of the clock (never when it is 0). */
  start(): void;
  stop(): Promise<void>;
  /** Calls `listener` after every check (a tick or the timer's), with what it did; returns its removal. */
  onCheck(listener: (check: DunningCheck) => void): () => void;
}

const BATCH = 10;

/**
 * Dunning on one instance. Any number of instances may run it: steps are claimed with SKIP LOCKED and a lease, and a
 * step's Stripe writes are keyed by the step, so each step happens once.
 */
export function createDunningWorker(options: DunningWorkerOptions): DunningWorker {
  const { policy, clock } = options;
  if (!policy) {
    return {
      tick: () => Promise.resolve({ at: new Date(clock.now()), enrolled: 0, left: 0, steps: [] }),
      start: () => undefined,
      stop: () => Promise.resolve(),
      onCheck: () => () => undefined,
    };
  }
  const instance = options.instance ?? randomUUID();
  const log = options.log?.child({ component: 'dunning', instance });
  const controller = new AbortController();
  let running: Promise<DunningCheck> | null = null;
  let queued: Promise<DunningCheck> | null = null;
  let loop: PollLoop | undefined;
  const listeners = new Set<(check: DunningCheck) => void>();

  const check = async (): Promise<DunningCheck> => {
    const at = new Date(clock.now());
    const em = options.em.fork();
    const left = await leaveSettledInvoices(em, at);
    const enrolled = await enrollInvoices(em, policy.start, policy.retryDays[0] ?? 0, at);
    const steps: DunningStepResult[] = [];
    while (!controller.signal.aborted) {
      const now = new Date(clock.now());
      const claimed = await claimDueSteps(options.em.fork(), { now, leaseMs: policy.leaseMs, instance, limit: BATCH });
      if (claimed.length === 0) {
        break;
      }
      for (const step of claimed) {
        const deps = { em: options.em, gateway: options.gateway, config: options.config, log };
        try {
          const result = await runDunningStep(deps, policy, step, instance, now);
          log?.info({ ...result }, 'dunning step ran');
          steps.push(result);
        } catch (error) {
          // Keeps its lease until it expires; then any instance resumes it where it stopped.
          log?.error({ err: error, invoiceId: step.invoiceId, step: step.step + 1 }, 'dunning step failed');
        }
      }
    }
    const result = { at, enrolled, left, steps };
    for (const listener of [...listeners]) {
      listener(result);
    }
    return result;
  };

  const tick = (): Promise<DunningCheck> => {
    if (!running) {
      running = check().finally(() => {
        running = null;
      });
      return running;
    }
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return tick();
      });
    return queued;
  };

  return {
    tick,
    start() {
      if (loop || policy.intervalMs === 0) {
        return;
      }
      loop = PollLoop.every(clock, policy.intervalMs, tick, (error) => {
        // A step that failed half-way keeps its lease until it expires; then any instance resumes it.
        log?.error({ err: error }, 'dunning check failed; the step is resumed after its lease');
      });
      loop.start();
    },
    async stop() {
      controller.abort();
      await loop?.stop();
      await running?.catch(() => undefined);
    },
    onCheck(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
