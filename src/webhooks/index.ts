import type { Router } from 'express';
import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { clientAddress, compileTrust } from '../config/trust-proxy';
import { DISPATCH_TABLE } from './dispatch-table';
import { WebhookSecretUsage, createStripeIntake } from './stripe-intake';
import type { StripeIntake } from './stripe-intake';
import { webhookRouter } from './webhook.router';
import { WebhookWorker } from './webhook-worker';
import type { WebhookOptions } from './webhook-options';
import { resolveWebhookOptions } from './webhook-options';

export { DISPATCH_TABLE } from './dispatch-table';
export type { DispatchTable, HandledEventType } from './dispatch-table';
export type { HandlerResult, WebhookHandler, WebhookHandlerContext } from './handler.types';
export { storeStripeEvent } from '../services/stripe-events/webhook-event-store';
export { webhookHealth } from './webhook-health';
export type { WebhookHealth } from './webhook-health';
export { resolveWebhookOptions } from './webhook-options';
export type { WebhookOptions } from './webhook-options';
export { MAX_WEBHOOK_BYTES, STRIPE_WEBHOOK_PATH } from './stripe-intake';
export type { StripeIntake } from './stripe-intake';
export { WEBHOOK_HEALTH_PATH } from './webhook.router';
export { WebhookWorker } from './webhook-worker';
export { webhookBatchCommitted } from './webhook-applied';

export interface WebhookComponents {
  /** Mounted before any JSON parser: the Stripe route needs the raw body to verify the signature. */
  router: Router;
  /** The POST handler itself (plain node types), for the server's lane ahead of Express. */
  intake: StripeIntake;
  /** Background processing of stored events. */
  worker: WebhookWorker;
  /** The options in effect (the configuration's WEBHOOK_* settings, then `options`). */
  options: WebhookOptions;
}

/**
 * Builds the Stripe webhook route, the health route and the worker. `options` overrides the configuration
 * (tests use it for short retry delays or a custom dispatch table); `clock` (default: the system's) drives the
 * per-IP limit, the worker's polls and its retry times.
 */
export function createWebhookComponents(deps: {
  db: Database;
  config: AppConfig;
  logger: Logger;
  options?: Partial<WebhookOptions>;
  clock?: Clock;
}): WebhookComponents {
  const options = resolveWebhookOptions(deps.config, deps.options);
  const clock = deps.clock ?? systemClock;
  const trust = compileTrust(deps.config.trustProxy);
  const worker = new WebhookWorker(
    deps.db,
    options.handlers ?? DISPATCH_TABLE,
    options,
    deps.logger.child({ component: 'webhook-worker' }),
    clock,
  );
  const secretUsage = new WebhookSecretUsage();
  const intake = createStripeIntake({
    db: deps.db,
    config: deps.config,
    logger: deps.logger.child({ component: 'webhooks' }),
    rateLimit: {
      perSecond: options.rateLimitPerSecond,
      burst: options.rateLimitBurst,
      clientIp: (req) => clientAddress(req, trust),
      clock,
    },
    onStored: () => worker.wake(),
    clock,
    secretUsage,
  });
  const router = webhookRouter({
    db: deps.db,
    config: deps.config,
    intake,
    secretUsage,
    maxPendingAgeSeconds: options.maxPendingAgeSeconds,
  });
  return { router, intake, worker, options };
}
