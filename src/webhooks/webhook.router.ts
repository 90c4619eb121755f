import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { STRIPE_WEBHOOK_PATH } from './stripe-intake';
import type { StripeIntake, WebhookSecretUsage } from './stripe-intake';
import { webhookHealth } from './webhook-health';

export const WEBHOOK_HEALTH_PATH = '/api/v1/webhooks/health';

export interface WebhookRouterDeps {
  db: Database;
  config: AppConfig;
  intake: StripeIntake;
  secretUsage: WebhookSecretUsage;
  maxPendingAgeSeconds: number;
}

/**
 * `POST /api/v1/webhooks/stripe` (the raw-body intake; mount this router before any JSON parser) and
 * `GET /api/v1/webhooks/health`. The server also calls the same intake ahead of Express for the POST path.
 */
export function webhookRouter(deps: WebhookRouterDeps): Router {
  const { db, config, intake } = deps;
  const router = express.Router();

  router.post(STRIPE_WEBHOOK_PATH, (req: Request, res: Response) => {
    void intake(req, res, res.locals as { log?: Logger });
  });

  router.get(WEBHOOK_HEALTH_PATH, async (_req: Request, res: Response, next: NextFunction) => {
    try {
      const log = res.locals.log as Logger | undefined;
      const health = await webhookHealth(db.orm.em.fork(), config, deps.maxPendingAgeSeconds, log, deps.secretUsage);
      res.status(health.status === 'ok' ? 200 : 503).json(health);
    } catch (error) {
      next(error);
    }
  });

  return router;
}
