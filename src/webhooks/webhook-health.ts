import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppConfig, StripeMode } from '../config/config';
import type { Logger } from '../config/logger';
import { readBacklogFigures } from '../services/stripe-events/webhook-event-store';
import type { BacklogFigures } from '../services/stripe-events/webhook-event-store';
import type { WebhookSecretUsage } from './stripe-intake';

export interface WebhookHealth {
  status: 'ok' | 'unhealthy';
  /** Why the status is unhealthy (empty when ok). */
  problems: string[];
  secretConfigured: boolean;
  secretWellFormed: boolean;
  /** How many signing secrets STRIPE_WEBHOOK_SECRET lists (two while one is rolled). */
  secretCount: number;
  /** Which of them (0 = the first listed) verified this instance's last event; null before the first. */
  lastEventSecretIndex: number | null;
  stripeMode: StripeMode;
  /** `unreachable` while the database cannot be queried: events cannot be stored, and the figures are null. */
  database: 'ok' | 'unreachable';
  lastEventReceivedAt: string | null;
  pendingCount: number | null;
  oldestPendingAgeSeconds: number | null;
  failedCount: number | null;
}

const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9_]+$/;

/**
 * Configuration and backlog figures for `GET /api/v1/webhooks/health`. Ages use the database clock. A database
 * that cannot be queried is a reason to be unhealthy, like `/readyz`, not a failure of the check: Stripe's events
 * cannot be stored (the route answers 5xx and Stripe retries), so the answer says so with the configuration checks.
 */
export async function webhookHealth(
  em: EntityManager,
  config: AppConfig,
  maxPendingAgeSeconds: number,
  log?: Logger,
  secretUsage?: WebhookSecretUsage,
): Promise<WebhookHealth> {
  const secrets = config.stripe.webhookSecrets ?? [];
  const wellFormed = secrets.length > 0 && secrets.every((secret) => WEBHOOK_SECRET.test(secret));
  const problems: string[] = [];
  if (secrets.length === 0) {
    problems.push('STRIPE_WEBHOOK_SECRET is not set: webhooks are refused (503) until it is');
  } else if (!wellFormed) {
    problems.push('STRIPE_WEBHOOK_SECRET does not look like a signing secret (whsec_…)');
  }
  const configuration = {
    secretConfigured: secrets.length > 0,
    secretWellFormed: wellFormed,
    secretCount: secrets.length,
    lastEventSecretIndex: secretUsage?.lastIndex ?? null,
    stripeMode: config.stripe.mode,
  };
  let row: BacklogFigures;
  try {
    row = await readBacklogFigures(em);
  } catch (error) {
    log?.warn({ err: error }, 'webhook health: the database is unreachable');
    problems.push('the database is unreachable: events cannot be stored (Stripe retries them) and figures are unknown');
    return {
      status: 'unhealthy',
      problems,
      ...configuration,
      database: 'unreachable',
      lastEventReceivedAt: null,
      pendingCount: null,
      oldestPendingAgeSeconds: null,
      failedCount: null,
    };
  }
  const pendingCount = Number(row.pending_count);
  const failedCount = Number(row.failed_count);
  const oldestPendingAgeSeconds =
    row.oldest_pending_age === null ? null : Math.max(0, Math.floor(Number(row.oldest_pending_age)));
  if (failedCount > 0) {
    problems.push(`${failedCount} event(s) failed after every retry: inspect and replay them`);
  }
  if (oldestPendingAgeSeconds !== null && oldestPendingAgeSeconds > maxPendingAgeSeconds) {
    problems.push(`the oldest pending event waits for ${oldestPendingAgeSeconds} s (limit ${maxPendingAgeSeconds} s)`);
  }
  return {
    status: problems.length === 0 ? 'ok' : 'unhealthy',
    problems,
    ...configuration,
    database: 'ok',
    lastEventReceivedAt: row.last_received === null ? null : new Date(row.last_received).toISOString(),
    pendingCount,
    oldestPendingAgeSeconds,
    failedCount,
  };
}
