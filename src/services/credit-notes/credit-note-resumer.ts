import type { EntityManager } from '@mikro-orm/postgresql';
import { PollLoop } from '../../lib/poll-loop';
import type { Clock } from '../../config/clock';
import type { AppConfig } from '../../config/config';
import type { Logger } from '../../config/logger';
import type { StripeGateway } from '../../stripe';
import { resumePendingCreditNotes } from './resume-credit-notes.service';
import type { ResumedCreditNote } from './resume-credit-notes.service';

export interface CreditNoteResumerOptions {
  em: EntityManager;
  gateway: StripeGateway;
  config: Pick<AppConfig, 'billing'>;
  clock: Clock;
  /** `CREDIT_NOTE_RESUME_SECONDS` in ms: how often, and how long a note must have been PENDING; 0 = off. */
  intervalMs: number;
  log?: Logger;
}

export interface CreditNoteCheck {
  /** The clock's time when the check began. */
  at: Date;
  notes: ResumedCreditNote[];
}

export interface CreditNoteResumer {
  /** Resumes the notes PENDING for at least one interval at the clock's time now. */
  tick(): Promise<CreditNoteCheck>;
  start(): void;
  stop(): Promise<void>;
  /** Calls `listener` after every check with what it did; returns its removal. */
  onCheck(listener: (check: CreditNoteCheck) => void): () => void;
}

const BATCH = 50;

/**
 * Every instance looks for PENDING credit notes each interval and resumes them (`resumePendingCreditNotes`), so a
 * note whose Stripe call failed is settled within about two intervals, not only at the next reconciliation. Several
 * instances may resume the same note at once: Stripe answers its key once, and settling changes a PENDING note only.
 */
export function createCreditNoteResumer(options: CreditNoteResumerOptions): CreditNoteResumer {
  const { clock, intervalMs } = options;
  const log = options.log?.child({ component: 'credit-note-resumer' });
  const listeners = new Set<(check: CreditNoteCheck) => void>();
  let running: Promise<CreditNoteCheck> | null = null;
  let loop: PollLoop | undefined;

  const check = async (): Promise<CreditNoteCheck> => {
    const at = new Date(clock.now());
    const notes = await resumePendingCreditNotes(
      { em: options.em, gateway: options.gateway, config: options.config, now: at, log },
      { before: new Date(at.getTime() - intervalMs), limit: BATCH },
    );
    for (const note of notes) {
      log?.info({ ...note }, 'pending credit note resumed');
    }
    const result = { at, notes };
    for (const listener of [...listeners]) {
      listener(result);
    }
    return result;
  };

  const tick = (): Promise<CreditNoteCheck> => {
    // One check at a time on this instance; a call meanwhile runs after it.
    const next: Promise<CreditNoteCheck> = (running ?? Promise.resolve())
      .catch(() => undefined)
      .then(check)
      .finally(() => {
        if (running === next) {
          running = null;
        }
      });
    running = next;
    return next;
  };

  return {
    tick,
    start() {
      if (loop || intervalMs === 0) {
        return;
      }
      loop = PollLoop.every(clock, intervalMs, tick, (error) => {
        log?.error({ err: error }, 'resuming pending credit notes failed; the next check tries again');
      });
      loop.start();
    },
    async stop() {
      await loop?.stop();
      await running?.catch(() => undefined);
    },
    onCheck(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
