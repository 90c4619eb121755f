import { timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import { Gauge, Registry } from 'prom-client';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { bearerToken } from '../http/authenticate';
import { httpRequestDuration, processMetrics } from '../lib/metrics';
import type { TokenVerifier } from '../services/customers/auth.service';
import { isPrivileged } from '../services/customers/caller';
import { readOperatingFigures } from '../services/monitoring/operating-figures.service';
import type { OperatingFigures } from '../services/monitoring/operating-figures.service';
import type { StatusFeedState } from '../services/status-feed/status-change-hub';

/** What this instance knows of itself at a scrape, beside the database's figures. */
export interface InstanceFigures {
  statusFeedState(): StatusFeedState;
  statusFeeds(): number;
  streams(): { connections: number; subscriptions: number };
  /** The ORM's connection pool, when the driver has one (PostgreSQL; the embedded PGlite has a single connection). */
  pool(): { used: number; free: number; pending: number } | undefined;
  /** The statement pool beside it (`pooledQuery`'s plain `pg` connections; PostgreSQL only). */
  statementPool(): { used: number; free: number; pending: number } | undefined;
}

const STATUS_FEED_STATES: StatusFeedState[] = ['ok', 'reconnecting', 'stopped'];

/**
 * This instance's gauges, read at each scrape: the database's figures (invoices by status, the webhook backlog,
 * running billing runs) and the instance's own (subscribers, the status listener, streams, the pool). A failing
 * database read is reported as `agenthub_database_up 0`, never as a failed scrape.
 */
function instanceRegistry(db: Database, self: InstanceFigures, log: Logger): Registry & { refresh(): Promise<void> } {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const databaseUp = gauge('agenthub_database_up', '1 when the last scrape could read the database, else 0.');
  const invoices = gauge('agenthub_invoices', 'Invoices by status.', ['status']);
  const webhookPending = gauge('agenthub_webhook_events_pending', 'Stored Stripe events not yet applied.');
  const webhookFailed = gauge('agenthub_webhook_events_failed', 'Stored Stripe events that failed every retry.');
  const webhookOldest = gauge(
    'agenthub_webhook_oldest_pending_age_seconds',
    'How long the oldest unapplied Stripe event has waited (0 when none waits).',
  );
  const runs = gauge('agenthub_billing_runs_running', 'Billing runs still running.');
  const runItems = gauge(
    'agenthub_billing_run_items',
    'Items (one per customer) of the billing runs still running, by status: progress is done / total.',
    ['status'],
  );
  const feedState = gauge(
    'agenthub_status_feed_listener',
    "The status feed's database listener: 1 for its current state (ok, reconnecting, stopped).",
    ['state'],
  );
  const feeds = gauge('agenthub_status_feed_subscribers', 'paymentStatusChanged subscriptions open on this instance.');
  const connections = gauge('agenthub_stream_connections', 'WebSocket and SSE connections open on this instance.');
  const subscriptions = gauge('agenthub_stream_subscriptions', 'Subscriptions those connections hold.');
  const pool = gauge('agenthub_db_pool_connections', "The database pool's connections by state.", ['state']);
  const statementPool = gauge(
    'agenthub_db_statement_pool_connections',
    "The statement pool's connections (hot-path single statements: the webhook insert, invoice reads) by state.",
    ['state'],
  );

  let reading: Promise<void> | undefined;
  const read = async (): Promise<void> => {
    let figures: OperatingFigures;
    try {
      figures = await readOperatingFigures(db.orm.em.fork());
    } catch (error) {
      log.warn({ err: error }, 'metrics: the database could not be read');
      databaseUp.set(0);
      return;
    }
    databaseUp.set(1);
    invoices.reset();
    for (const [status, count] of Object.entries(figures.invoicesByStatus)) {
      invoices.set({ status }, count);
    }
    webhookPending.set(figures.webhookPending);
    webhookFailed.set(figures.webhookFailed);
    webhookOldest.set(figures.webhookOldestPendingAgeSeconds);
    runs.set(figures.runningBillingRuns);
    runItems.reset();
    for (const [status, count] of Object.entries(figures.runningBillingRunItems)) {
      runItems.set({ status }, count);
    }
  };
  return Object.assign(registry, {
    async refresh(): Promise<void> {
      // One database read per scrape, however many scrapers ask at once.
      reading ??= read().finally(() => {
        reading = undefined;
      });
      await reading;
      const state = self.statusFeedState();
      for (const each of STATUS_FEED_STATES) {
        feedState.set({ state: each }, each === state ? 1 : 0);
      }
      feeds.set(self.statusFeeds());
      const streams = self.streams();
      connections.set(streams.connections);
      subscriptions.set(streams.subscriptions);
      for (const [gauged, figures] of [
        [pool, self.pool()],
        [statementPool, self.statementPool()],
      ] as const) {
        if (figures) {
          gauged.set({ state: 'used' }, figures.used);
          gauged.set({ state: 'free' }, figures.free);
          gauged.set({ state: 'pending' }, figures.pending);
        }
      }
    },
  });
}

/** The pool's figures from knex (tarn), or undefined when the driver keeps none. */
export function poolFigures(db: Database): { used: number; free: number; pending: number } | undefined {
  const pool = (
    db.orm.em.getKnex().client as {
      pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number };
    }
  ).pool;
  if (!pool || typeof pool.numUsed !== 'function') {
    return undefined;
  }
  return { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires() };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /metrics` in Prometheus's text format: the process's instruments (`src/lib/metrics.ts`) and this instance's
 * gauges. Readers: a scraper with `METRICS_TOKEN`, or an admin or service JWT; anyone else gets 401/403.
 */
export function metricsRouter(
  db: Database,
  verify: TokenVerifier,
  metricsToken: string | undefined,
  self: InstanceFigures,
  log: Logger,
): Router {
  const registry = instanceRegistry(db, self, log);
  const router = Router();
  router.get('/metrics', async (req: Request, res: Response) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      res.status(401).json({ error: { code: 'unauthenticated', message: 'Send Authorization: Bearer <token>' } });
      return;
    }
    if (!(metricsToken && sameSecret(token, metricsToken))) {
      let privileged = false;
      try {
        privileged = isPrivileged(await verify(token));
      } catch {
        res.status(401).json({
          error: { code: 'unauthenticated', message: 'The token is neither METRICS_TOKEN nor a valid JWT' },
        });
        return;
      }
      if (!privileged) {
        res.status(403).json({ error: { code: 'forbidden', message: 'Metrics are for admin and service tokens' } });
        return;
      }
    }
    await registry.refresh();
    const text = `${await processMetrics.metrics()}\n${await registry.metrics()}`;
    res.setHeader('content-type', processMetrics.contentType);
    res.setHeader('cache-control', 'no-store');
    res.send(text);
  });
  return router;
}

/**
 * Times every request Express routes, labelled by the pattern that matched (`/api/v1/invoices/:id`) or the mount
 * (`/graphql`), never by the raw path: one series per route, whatever ids clients send. The Stripe webhook lane
 * bypasses Express and is counted by `agenthub_webhook_intake_total`.
 */
export function timeRequests(req: Request, res: Response, next: NextFunction): void {
  const started = process.hrtime.bigint();
  res.once('finish', () => {
    const matched = req.route as { path?: unknown } | undefined;
    const route =
      typeof matched?.path === 'string'
        ? `${req.baseUrl}${matched.path}`
        : req.baseUrl || (res.statusCode === 404 ? 'unmatched' : 'other');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
  });
  next();
}
