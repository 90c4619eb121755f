import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppConfig, StripeMode } from '../config/config';

export interface WebhookHealth {
  status: 'ok' | 'unhealthy';
  /** Why the status is unhealthy (empty when ok). */
  problems: string[];
  secretConfigured: boolean;
  secretWellFormed: boolean;
  stripeMode: StripeMode;
  lastEventReceivedAt: string | null;
  pendingCount: number;
  oldestPendingAgeSeconds: number | null;
  failedCount: number;
}

interface FiguresRow {
  last_received: Date | string | null;
  pending_count: string | number;
  oldest_pending_age: string | number | null;
  failed_count: string | number;
}

const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9_]+$/;

/** Configuration and backlog figures for `GET /api/v1/webhooks/health`. Ages use the database clock. */
export async function webhookHealth(
  em: EntityManager,
  config: AppConfig,
  maxPendingAgeSeconds: number,
): Promise<WebhookHealth> {
  const [row] = await em.execute<FiguresRow[]>(
    `select
       (select max(received_at) from webhook_events) as last_received,
       (select count(*) from webhook_events where status in ('pending', 'processing')) as pending_count,
       (select extract(epoch from now() - min(received_at)) from webhook_events
         where status in ('pending', 'processing')) as oldest_pending_age,
       (select count(*) from webhook_events where status = 'failed') as failed_count`,
  );
  const secret = config.stripe.webhookSecret;
  const pendingCount = Number(row.pending_count);
  const failedCount = Number(row.failed_count);
  const oldestPendingAgeSeconds =
    row.oldest_pending_age === null ? null : Math.max(0, Math.floor(Number(row.oldest_pending_age)));
  const problems: string[] = [];
  if (!secret) {
    problems.push('STRIPE_WEBHOOK_SECRET is not set: webhooks are refused (503) until it is');
  } else if (!WEBHOOK_SECRET.test(secret)) {
    problems.push('STRIPE_WEBHOOK_SECRET does not look like a signing secret (whsec_…)');
  }
  if (failedCount > 0) {
    problems.push(`${failedCount} event(s) failed after every retry: inspect and replay them`);
  }
  if (oldestPendingAgeSeconds !== null && oldestPendingAgeSeconds > maxPendingAgeSeconds) {
    problems.push(`the oldest pending event waits for ${oldestPendingAgeSeconds} s (limit ${maxPendingAgeSeconds} s)`);
  }
  return {
    status: problems.length === 0 ? 'ok' : 'unhealthy',
    problems,
    secretConfigured: Boolean(secret),
    secretWellFormed: Boolean(secret && WEBHOOK_SECRET.test(secret)),
    stripeMode: config.stripe.mode,
    lastEventReceivedAt: row.last_received === null ? null : new Date(row.last_received).toISOString(),
    pendingCount,
    oldestPendingAgeSeconds,
    failedCount,
  };
}
