import type { DispatchTable } from './dispatch-table';

/** Tuning of the webhook route and worker. Every field has a default that suits production. */
export interface WebhookOptions {
  /** Run the worker in this instance (an instance may only receive, e.g. a dedicated ingress). Default true. */
  workerEnabled: boolean;
  /** Events claimed per transaction. Default 25. */
  batchSize: number;
  /** Idle poll interval: how soon an event stored by another instance is picked up. Default 100 ms. */
  pollIntervalMs: number;
  /** Attempts before an event is marked `failed`. Default 8. */
  maxAttempts: number;
  /** First retry delay; doubles with every attempt. Default 2,000 ms (8 attempts span about 4 minutes). */
  retryBaseMs: number;
  /** Upper bound of one retry delay. Default 15 minutes. */
  retryMaxMs: number;
  /** Wait after the worker itself failed (database unreachable), so a dead database is not hammered. Default 1 s. */
  errorDelayMs: number;
  /** Health turns 503 when the oldest pending event is older than this. Default 300 s. */
  maxPendingAgeSeconds: number;
  /** Per-IP limit on the webhook route: sustained requests per second (0 = off). Default 100. */
  rateLimitPerSecond: number;
  /** Per-IP burst on the webhook route. Default 500. */
  rateLimitBurst: number;
  /**
   * Bound on any one statement (and any lock wait) while applying a batch: a handler stuck behind a row lock or a
   * runaway query fails after this and is retried like any failure, instead of holding the batch. Default 10,000 ms.
   */
  handlerTimeoutMs: number;
  /** Event type → handler; the default table unless a test or tool swaps it. */
  handlers?: DispatchTable;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  workerEnabled: true,
  batchSize: 25,
  pollIntervalMs: 100,
  maxAttempts: 8,
  retryBaseMs: 2_000,
  retryMaxMs: 15 * 60_000,
  errorDelayMs: 1_000,
  maxPendingAgeSeconds: 300,
  rateLimitPerSecond: 100,
  rateLimitBurst: 500,
  handlerTimeoutMs: 10_000,
};

const NUMERIC: Array<[keyof WebhookOptions, string, number, number]> = [
  ['batchSize', 'WEBHOOK_WORKER_BATCH_SIZE', 1, 500],
  ['pollIntervalMs', 'WEBHOOK_WORKER_POLL_MS', 10, 60_000],
  ['maxAttempts', 'WEBHOOK_RETRY_MAX_ATTEMPTS', 1, 100],
  ['retryBaseMs', 'WEBHOOK_RETRY_BASE_MS', 1, 3_600_000],
  ['retryMaxMs', 'WEBHOOK_RETRY_MAX_MS', 1, 86_400_000],
  ['maxPendingAgeSeconds', 'WEBHOOK_HEALTH_MAX_PENDING_AGE_S', 1, 86_400],
  ['rateLimitPerSecond', 'WEBHOOK_RATE_LIMIT_PER_SECOND', 0, 100_000],
  ['rateLimitBurst', 'WEBHOOK_RATE_LIMIT_BURST', 1, 1_000_000],
  ['handlerTimeoutMs', 'WEBHOOK_HANDLER_TIMEOUT_MS', 100, 600_000],
];

/**
 * Options from explicit overrides, then the environment, then defaults. AppConfig has no webhook section yet, so
 * the variables are read here; like the config, a bad value fails fast and names the variable.
 */
export function resolveWebhookOptions(
  overrides: Partial<WebhookOptions> = {},
  env: Record<string, string | undefined> = process.env,
): WebhookOptions {
  const options: WebhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS };
  const problems: string[] = [];
  for (const [key, variable, min, max] of NUMERIC) {
    const raw = env[variable]?.trim();
    if (!raw) {
      continue;
    }
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${variable} must be a whole number from ${min} to ${max} (got "${raw}")`);
      continue;
    }
    (options[key] as number) = Number(raw);
  }
  const enabled = env.WEBHOOK_WORKER_ENABLED?.trim().toLowerCase();
  if (enabled) {
    if (['true', '1', 'yes', 'on'].includes(enabled)) {
      options.workerEnabled = true;
    } else if (['false', '0', 'no', 'off'].includes(enabled)) {
      options.workerEnabled = false;
    } else {
      problems.push(`WEBHOOK_WORKER_ENABLED must be true or false (got "${enabled}")`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`Invalid webhook configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return { ...options, ...overrides };
}

/** Delay before the next attempt after `attempts` failed ones: base · 2^(attempts-1), capped. */
export function retryDelayMs(options: Pick<WebhookOptions, 'retryBaseMs' | 'retryMaxMs'>, attempts: number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** exponent);
}
