import 'reflect-metadata';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import type { GraphQLSchema } from 'graphql';
import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import type { AppConfig } from '../config/config';
import { createLogger } from '../config/logger';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { buildAppSchema } from '../resolvers';
import { graphqlRules } from '../resolvers/graphql-rules';
import { BillingRunFeed } from '../services/billing-runs/billing-run-feed';
import { dunningPolicy } from '../services/dunning/dunning-policy';
import { createDunningWorker } from '../services/dunning/dunning-worker';
import type { DunningWorker } from '../services/dunning/dunning-worker';
import { createCreditNoteResumer } from '../services/credit-notes/credit-note-resumer';
import type { CreditNoteResumer } from '../services/credit-notes/credit-note-resumer';
import { createTokenVerifier } from '../services/customers/auth.service';
import { secretBoxFromConfig } from '../services/shared/secrets-at-rest';
import { StatusChangeHub } from '../services/status-feed/status-change-hub';
import type { StripeGateway } from '../stripe';
import { gatewayFromConfig } from '../stripe/gateway-from-config';
import { createWebhookComponents } from '../webhooks';
import { OutgoingWebhookWorker } from '../webhooks/outgoing-webhook-worker';
import type { RecordedAttempt } from '../webhooks/outgoing-webhook-worker';
import { JetStreamUsageStream } from '../queue/jetstream-usage-queue';
import { MetricCatalogueCache } from '../services/usage/metric-catalogue';
import type { UsageQueue } from '../services/usage/usage-queue';
import { UsageQueueWriter } from '../services/usage/usage-queue-writer';
import type { UsageWriteOutcome } from '../services/usage/usage-queue-writer';
import { serveGraphQLOverHttp } from './graphql-http';
import { serveGraphQLOverSse } from './graphql-sse';
import { serveGraphQLOverWebSocket } from './graphql-ws';
import { SharedSubscriptions } from './shared-subscription';
import { createHttpApp, webhookLane } from './http-app';
import { poolFigures } from './metrics';
import { statementPoolFigures } from '../entities/pooled-query';
import { requestServices } from './request-services';
import { StreamLimits } from './stream-limits';

export interface ServerOptions {
  config: AppConfig;
  db: Database;
  logger?: Logger;
  /** Default: built from `config.stripe` (real Stripe, or the local emulator at STRIPE_API_BASE). */
  gateway?: StripeGateway;
  /**
   * Time for everything the server decides by the clock: token expiry, the webhook route's per-IP limit, the webhook
   * worker's polls and retries, Stripe pacing (when the gateway is built here), stale payment attempts, which
   * periods have ended. Default: the system clock; tests pass one they move by hand.
   */
  clock?: Clock;
}

export interface BillingServer {
  app: express.Express;
  httpServer: http.Server;
  schema: GraphQLSchema;
  /** Starts listening; port 0 picks a free port. Resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Graceful stop: refuse new connections, finish in-flight requests, close WebSockets. Leaves the database open. */
  close(): Promise<void>;
  /**
   * Status-change subscriptions open on this instance, each listening from this moment on (a dashboard, or a test
   * that must not trigger a change before its subscription can hear it).
   */
  statusFeeds(): number;
  /** Calls `listener` whenever a status feed opens or closes on this instance; returns its removal. */
  onStatusFeedsChange(listener: () => void): () => void;
  /** Calls `listener` whenever the status feed's state (`/readyz`'s `statusFeed`) changes. */
  onStatusFeedStateChange(listener: () => void): () => void;
  /** `billingRunProgressed` subscriptions open on this instance, each listening from this moment on. */
  billingRunWatchers(): number;
  /** Calls `listener` whenever such a subscription opens or closes; returns its removal. */
  onBillingRunWatchersChange(listener: () => void): () => void;
  /**
   * WebSockets and SSE streams open on this instance, and the subscriptions they hold, as counted against the
   * `SUBSCRIPTION_*` caps; both return to 0 when every client has gone.
   */
  streams(): { connections: number; subscriptions: number };
  /**
   * This instance's dunning (`DUNNING_*`): it checks on its own every `DUNNING_INTERVAL_SECONDS` once listening;
   * `tick()` runs the steps due now (a test that moved the clock, an operator).
   */
  dunning: DunningWorker;
  /**
   * Calls `listener` after each write of this instance's usage queue writer (`USAGE_INGEST=jetstream`: events
   * stored, or the failure it retries); returns its removal. Never called in the direct mode.
   */
  onUsageWrite(listener: (outcome: UsageWriteOutcome) => void): () => void;
  /** Calls `listener` after each outgoing webhook attempt this instance recorded; returns its removal. */
  onOutgoingAttempt(listener: (attempt: RecordedAttempt) => void): () => void;
  /**
   * Resumes refunds and credit notes left PENDING when Stripe was unreachable, every `CREDIT_NOTE_RESUME_SECONDS` once
   * listening; `tick()` resumes those pending at least that long now.
   */
  creditNotes: CreditNoteResumer;
}

/**
 * Composes one server from its modules, unstarted: the shared services (`request-services.ts`), GraphQL over
 * WebSocket (`graphql-ws.ts`), Server-Sent Events (`graphql-sse.ts`) and HTTP (`graphql-http.ts`), the Express app with health and REST (`http-app.ts`,
 * `health.ts`), and the Stripe webhook lane ahead of Express.
 */
export async function createServer(options: ServerOptions): Promise<BillingServer> {
  const { config, db } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config);
  const schema = await buildAppSchema();
  // One set of rules (limits, introspection, suggestions, error formatting) for both HTTP and WebSocket.
  const rules = graphqlRules(config.nodeEnv, config.graphql.textLimits);
  const statusHub = new StatusChangeHub(db, logger, { clock });
  await statusHub.start();
  const billingRuns = new BillingRunFeed(db, logger, { clock });
  const usage = await usageIntake(options, clock, logger);
  const gateway = options.gateway ?? gatewayFromConfig(config, { clock });
  const secretBox = secretBoxFromConfig(config);
  const services = requestServices({
    config,
    db,
    clock,
    logger,
    verify: createTokenVerifier(config, clock),
    gateway,
    secretBox,
    statusHub,
    billingRuns,
    usageQueue: usage?.queue,
  });

  const httpServer = http.createServer();
  const webhooks = createWebhookComponents({ db, config, logger, clock });
  const outgoing = new OutgoingWebhookWorker(
    db,
    secretBox,
    { errorDelayMs: 1_000, ...config.outgoingWebhooks },
    logger.child({ component: 'outgoing-webhooks' }),
    clock,
  );
  // One set of bounds for both streaming transports: connections, subscriptions per connection and per user.
  const streamLimits = new StreamLimits(config.subscriptions);
  // One execution per event and distinct selection, for both streaming transports.
  const shared = new SharedSubscriptions(rules);
  const ws = serveGraphQLOverWebSocket(httpServer, schema, rules, services, streamLimits, shared);
  const sse = serveGraphQLOverSse(schema, rules, services, streamLimits, shared);
  const graphql = await serveGraphQLOverHttp(httpServer, schema, rules, services, async () => {
    await Promise.all([ws.dispose(), sse.dispose()]);
  });
  const app = createHttpApp(services, webhooks, graphql.handlers, sse.handlers, {
    statusFeedState: () => statusHub.state,
    statusFeeds: () => statusHub.listenerCount,
    streams: () => streamLimits.counts,
    pool: () => poolFigures(db),
    statementPool: () => statementPoolFigures(db.orm),
  });
  httpServer.on('request', webhookLane(webhooks, app, logger));
  const dunning = createDunningWorker({
    em: db.orm.em,
    gateway,
    config,
    policy: dunningPolicy(config.dunning),
    clock,
    log: logger,
  });
  const creditNotes = createCreditNoteResumer({
    em: db.orm.em,
    gateway,
    config,
    clock,
    intervalMs: config.billing.creditNoteResumeSeconds * 1000,
    log: logger,
  });
  let closing: Promise<void> | undefined;

  return {
    app,
    httpServer,
    schema,
    statusFeeds: () => statusHub.listenerCount,
    onStatusFeedsChange: (listener) => statusHub.onListenerCountChange(listener),
    onStatusFeedStateChange: (listener) => statusHub.onStateChange(listener),
    billingRunWatchers: () => billingRuns.watcherCount,
    onBillingRunWatchersChange: (listener) => billingRuns.onWatcherCountChange(listener),
    streams: () => streamLimits.counts,
    dunning,
    onUsageWrite: (listener) => usage?.writer.onWrite(listener) ?? (() => undefined),
    onOutgoingAttempt: (listener) => outgoing.onRecorded(listener),
    creditNotes,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          webhooks.worker.start();
          dunning.start();
          creditNotes.start();
          usage?.writer.start();
          const address = httpServer.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          // Listening for queued deliveries before answering: nothing queued from here on waits for the poll.
          outgoing.start().then(() => resolve(`http://${shownHost}:${address.port}`), reject);
        });
      });
    },
    close() {
      // Once, however often it is called (a test that restarts an instance, then tears everything down).
      closing ??= closeOnce();
      return closing;
    },
  };

  async function closeOnce(): Promise<void> {
    await dunning.stop();
    await creditNotes.stop();
    await webhooks.worker.stop();
    await outgoing.stop();
    await usage?.writer.stop();
    await usage?.stream.close();
    // Apollo's drain plugin stops accepting, waits for in-flight requests and disposes graphql-ws.
    await graphql.stop();
    await ws.close();
    await statusHub.stop();
    await billingRuns.stop();
    if (httpServer.listening) {
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    }
  }
}

/**
 * The JetStream usage intake when `USAGE_INGEST=jetstream`: the stream and its consumer (created when missing), the
 * queue `recordUsage` publishes to, and this instance's writer (started by `listen`). Undefined in the direct mode.
 */
async function usageIntake(
  options: ServerOptions,
  clock: Clock,
  logger: Logger,
): Promise<{ stream: JetStreamUsageStream; queue: UsageQueue; writer: UsageQueueWriter } | undefined> {
  const settings = options.config.usageIntake;
  if (settings.mode !== 'jetstream') {
    return undefined;
  }
  const stream = await JetStreamUsageStream.open(settings);
  const catalogue = new MetricCatalogueCache(clock);
  const queue: UsageQueue = {
    publish: (events) => stream.publish(events),
    metrics: (em, codes) => catalogue.lookup(em, codes),
  };
  const writer = new UsageQueueWriter(
    options.db,
    await stream.source(),
    { writeBatch: settings.writeBatch, backoff: { baseMs: settings.retryMs, maxMs: 10_000, jitter: 0.2 } },
    logger.child({ component: 'usage-queue' }),
    clock,
  );
  return { stream, queue, writer };
}
