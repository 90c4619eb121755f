import express from 'express';
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { ipRateLimit } from './ip-rate-limit';
import type { IpRateLimitOptions } from './ip-rate-limit';
import { SignatureError, verifyStripeEvent } from './verify-signature';
import { storeStripeEvent } from './webhook-event.store';
import { webhookHealth } from './webhook-health';

export const STRIPE_WEBHOOK_PATH = '/api/v1/webhooks/stripe';
export const WEBHOOK_HEALTH_PATH = '/api/v1/webhooks/health';
/** Stripe events are a few kB; even an invoice with many embedded lines stays far below this. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export interface WebhookRouterDeps {
  db: Database;
  config: AppConfig;
  logger: Logger;
  maxPendingAgeSeconds: number;
  rateLimit: IpRateLimitOptions;
  /** Called after a new event committed (wakes this instance's worker). */
  onStored: () => void;
}

function fail(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Raw body for this route only; parser errors answered here so they never reach a generic handler. */
function rawBody(): RequestHandler {
  const parse = express.raw({ type: '*/*', limit: MAX_WEBHOOK_BYTES });
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => {
      if (!error) {
        next();
        return;
      }
      const type = (error as { type?: unknown }).type;
      if (type === 'entity.too.large') {
        fail(res, 413, 'PAYLOAD_TOO_LARGE', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes`);
        return;
      }
      const status = (error as { status?: unknown }).status;
      fail(res, typeof status === 'number' && status < 500 ? status : 400, 'BAD_REQUEST', 'Unreadable request body');
    });
  };
}

/**
 * `POST /api/v1/webhooks/stripe`: verify on the raw body, store, acknowledge (invariant 4: the 200 is sent only
 * after the insert committed; the effect is applied later by the worker). `GET /api/v1/webhooks/health`.
 */
export function webhookRouter(deps: WebhookRouterDeps): Router {
  const { db, config, logger } = deps;
  const router = express.Router();

  router.post(
    STRIPE_WEBHOOK_PATH,
    ipRateLimit(deps.rateLimit),
    rawBody(),
    async (req: Request, res: Response, next: NextFunction) => {
      const log = (res.locals.log as Logger | undefined) ?? logger;
      const secret = config.stripe.webhookSecret;
      if (!secret) {
        // 503, not 4xx: Stripe keeps retrying, so nothing is lost once the secret is configured.
        fail(
          res,
          503,
          'WEBHOOK_SECRET_NOT_CONFIGURED',
          'Webhook signing secret is not configured: set STRIPE_WEBHOOK_SECRET to the endpoint secret (whsec_…) ' +
            'from the Stripe dashboard or `stripe listen`, then restart',
        );
        return;
      }
      if (!Buffer.isBuffer(req.body)) {
        // Another body parser ran first (the signed bytes are gone), or no Content-Type let the raw parser skip it.
        fail(
          res,
          400,
          'RAW_BODY_REQUIRED',
          'The raw request body is not available: send the payload exactly as Stripe sent it, with a Content-Type',
        );
        return;
      }
      let event;
      try {
        event = verifyStripeEvent(req.body, req.get('stripe-signature'), secret);
      } catch (error) {
        if (error instanceof SignatureError) {
          log.warn({ reason: error.code, bytes: req.body.length }, 'webhook refused');
          fail(res, 400, error.code, error.message);
          return;
        }
        next(error);
        return;
      }
      try {
        // No fork: a single auto-committed statement needs no identity map, and forking costs on this hot path.
        const { duplicate } = await storeStripeEvent(db.orm.em, event, req.body.toString('utf8'));
        // Debug: the worker writes the one info line per event (id, type, outcome, latency).
        log.debug({ eventId: event.id, type: event.type, duplicate }, 'webhook stored');
        res.status(200).json({ received: true, duplicate });
        if (!duplicate) {
          deps.onStored();
        }
      } catch (error) {
        // 500: Stripe retries, the event is not lost.
        next(error);
      }
    },
  );

  router.get(WEBHOOK_HEALTH_PATH, async (_req: Request, res: Response, next: NextFunction) => {
    try {
      const health = await webhookHealth(db.orm.em.fork(), config, deps.maxPendingAgeSeconds);
      res.status(health.status === 'ok' ? 200 : 503).json(health);
    } catch (error) {
      next(error);
    }
  });

  return router;
}
