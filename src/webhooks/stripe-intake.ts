import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { SignatureError, verifyStripeEvent } from '../stripe';
import { webhookIntake } from '../lib/metrics';
import { discardRefusedBody } from '../lib/refused-body';
import { ipRateLimit } from './ip-rate-limit';
import type { IpRateLimitOptions } from './ip-rate-limit';
import { sendError, sendJson } from './respond';
import { concurrentStatements } from '../entities/pooled-query';
import { StripeEventInbox } from '../services/stripe-events/webhook-event-store';

export const STRIPE_WEBHOOK_PATH = '/api/v1/webhooks/stripe';
/** Stripe events are a few kB; even an invoice with many embedded lines stays far below this. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export interface StripeIntakeDeps {
  db: Database;
  config: AppConfig;
  logger: Logger;
  rateLimit: IpRateLimitOptions;
  /** Called after a new event committed (wakes this instance's worker). */
  onStored: () => void;
  /** The time signatures are checked against (too old, or too far in the future). */
  clock: Clock;
  /** Where the intake records which secret verified the last event (read by the health route). */
  secretUsage: WebhookSecretUsage;
}

/**
 * Which configured secret verified this instance's last event: during a roll it tells the operator when Stripe has
 * moved to the new secret, so the old one can be removed. An index into STRIPE_WEBHOOK_SECRET's list, never the
 * secret. Per instance and in memory: after a restart it is unknown until the next event.
 */
export class WebhookSecretUsage {
  lastIndex: number | null = null;
  lastAt: Date | null = null;

  record(index: number, at: Date): void {
    this.lastIndex = index;
    this.lastAt = at;
  }
}

/**
 * Handles `POST /api/v1/webhooks/stripe` with plain node request and response objects: rate limit, raw body
 * (1 MB cap), signature, insert, acknowledge. Invariant 4: the 200 is sent only after the insert committed; the
 * effect is applied later by the worker.
 *
 * Plain node types so the same handler serves both ways it is reached: mounted in an Express router
 * (`webhookRouter`), and called by the server's request listener ahead of Express for this one path, which keeps
 * Express's per-request dispatch off Stripe's hot path (see docs/webhooks.md).
 */
export type StripeIntake = (req: IncomingMessage, res: ServerResponse, scope?: LogScope) => Promise<void>;

/** Where the request's logger comes from; read only when something is logged (making a child logger costs). */
export interface LogScope {
  readonly log?: Logger;
}

export function createStripeIntake(deps: StripeIntakeDeps): StripeIntake {
  const { db, config, logger } = deps;
  const limit = ipRateLimit(deps.rateLimit);
  // Events arriving together are stored by one statement (group commit); a lone event is stored at once.
  const inbox = new StripeEventInbox(db.orm.em, concurrentStatements(db.orm));

  const handle = async (req: IncomingMessage, res: ServerResponse, log: () => Logger): Promise<void> => {
    if (!limit(req, res)) {
      webhookIntake.inc({ outcome: 'rate_limited' });
      return;
    }
    const secrets = config.stripe.webhookSecrets;
    if (!secrets || secrets.length === 0) {
      // 503, not 4xx: Stripe keeps retrying, so nothing is lost once the secret is configured.
      sendError(
        res,
        503,
        'webhook_secret_not_configured',
        'Webhook signing secret is not configured: set STRIPE_WEBHOOK_SECRET to the endpoint secret (whsec_…) ' +
          'from the Stripe dashboard or `stripe listen`, then restart',
      );
      webhookIntake.inc({ outcome: 'not_configured' });
      return;
    }
    const body = await readRawBody(req, res);
    if (!body) {
      webhookIntake.inc({ outcome: 'refused' });
      return;
    }
    let verified;
    try {
      verified = verifyStripeEvent(body, headerValue(req.headers['stripe-signature']), secrets, deps.clock.now());
    } catch (error) {
      if (error instanceof SignatureError) {
        log().warn({ reason: error.code, bytes: body.length }, 'webhook refused');
        webhookIntake.inc({ outcome: 'bad_signature' });
        sendError(res, 400, error.code, error.message);
        return;
      }
      throw error;
    }
    const { event, secretIndex } = verified;
    deps.secretUsage.record(secretIndex, new Date(deps.clock.now()));
    const { duplicate } = await inbox.store(event);
    // Debug: the worker writes the one info line per event (id, type, outcome, latency).
    if (logger.isLevelEnabled('debug')) {
      log().debug({ eventId: event.id, type: event.type, duplicate, secretIndex }, 'webhook stored');
    }
    sendJson(res, 200, { received: true, duplicate });
    webhookIntake.inc({ outcome: duplicate ? 'duplicate' : 'stored' });
    if (!duplicate) {
      deps.onStored();
    }
  };

  return async (req, res, scope) => {
    const log = (): Logger => scope?.log ?? logger;
    try {
      await handle(req, res, log);
    } catch (error) {
      // 500 without detail (database down, a bug): Stripe retries, so the event is not lost.
      log().error({ err: error }, 'webhook intake failed');
      webhookIntake.inc({ outcome: 'error' });
      if (res.headersSent) {
        res.destroy();
      } else {
        sendError(res, 500, 'internal_error', 'The event could not be stored; Stripe will deliver it again');
      }
    }
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The request body as the exact bytes Stripe signed, or undefined after answering 400/413. A body another parser
 * already consumed (the route mounted after `express.json()`) cannot be verified and is refused with the reason.
 */
async function readRawBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> {
  if ((req as { body?: unknown }).body !== undefined || req.readableEnded) {
    sendError(
      res,
      400,
      'raw_body_required',
      'The raw request body is not available: the route must be mounted before any body parser',
    );
    return undefined;
  }
  const tooLarge = (): undefined => {
    // The rest of the upload is discarded unbuffered (up to a cap) so the sender reads its 413.
    discardRefusedBody(req);
    sendError(res, 413, 'payload_too_large', `Webhook bodies are limited to ${MAX_WEBHOOK_BYTES} bytes`);
    return undefined;
  };
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_WEBHOOK_BYTES) {
    return tooLarge();
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_WEBHOOK_BYTES) {
        req.off('data', onData);
        resolve(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(size > MAX_WEBHOOK_BYTES ? undefined : Buffer.concat(chunks, size)));
    const gone = (): void => {
      // The client went away mid-body: nothing to answer, nothing stored.
      if (!req.complete) {
        res.destroy();
        resolve(undefined);
      }
    };
    req.once('error', gone);
    req.once('close', gone);
  });
}
