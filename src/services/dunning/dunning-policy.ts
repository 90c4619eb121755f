import type { DunningSettings } from '../../config/config';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The policy in force (`DUNNING_*`); null when dunning is off (`DUNNING_RETRY_DAYS` unset). */
export interface DunningPolicy {
  retryDays: readonly number[];
  start: 'failure' | 'due_date';
  reminders: boolean;
  finalAction: 'uncollectible' | 'none';
  intervalMs: number;
  leaseMs: number;
}

export function dunningPolicy(settings: DunningSettings): DunningPolicy | null {
  if (!settings.retryDays || settings.retryDays.length === 0) {
    return null;
  }
  return {
    retryDays: settings.retryDays,
    start: settings.start,
    reminders: settings.reminders,
    finalAction: settings.finalAction,
    intervalMs: settings.intervalSeconds * 1000,
    leaseMs: settings.leaseSeconds * 1000,
  };
}

/** When step `step` (1-based) is due: `startedAt` plus that step's retry day; null after the last step. */
export function stepDueAt(policy: Pick<DunningPolicy, 'retryDays'>, startedAt: Date, step: number): Date | null {
  const days = policy.retryDays[step - 1];
  return days === undefined ? null : new Date(startedAt.getTime() + days * DAY_MS);
}
