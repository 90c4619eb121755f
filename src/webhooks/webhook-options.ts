import type { AppConfig, WebhookSettings } from '../config/config';
import { backoffDelayMs } from '../lib/backoff';
import type { DispatchTable } from './dispatch-table';

/** Tuning of the webhook route and worker: the `WEBHOOK_*` settings of the configuration, plus what tests swap. */
export interface WebhookOptions extends WebhookSettings {
  /** Wait after the worker itself failed (database unreachable), so a dead database is not hammered. Default 1 s. */
  errorDelayMs: number;
  /** Event type → handler; the default table unless a test or tool swaps it. */
  handlers?: DispatchTable;
}

/** The options in effect: the configuration's `webhooks` section, then explicit overrides (tests, tools). */
export function resolveWebhookOptions(config: AppConfig, overrides: Partial<WebhookOptions> = {}): WebhookOptions {
  return { errorDelayMs: 1_000, ...config.webhooks, ...overrides };
}

/** Delay before the next attempt after `attempts` failed ones: base · 2^(attempts-1), capped. */
export function retryDelayMs(options: Pick<WebhookOptions, 'retryBaseMs' | 'retryMaxMs'>, attempts: number): number {
  return backoffDelayMs({ baseMs: options.retryBaseMs, maxMs: options.retryMaxMs }, attempts - 1);
}
