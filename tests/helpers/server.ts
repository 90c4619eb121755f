import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { ExecutionResult } from 'graphql';
import { createClient } from 'graphql-ws';
import type { Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Clock } from '../../src/config/clock';
import { systemClock } from '../../src/config/clock';
import { WAIT_GUARD_MS } from './clock';
import { loadConfig } from '../../src/config/config';
import type { AppConfig, Env } from '../../src/config/config';
import type { Logger } from '../../src/config/logger';
import { Role } from '../../src/entities/enums';
import type { BillingServer } from '../../src/server';
import { createServer } from '../../src/server';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { EmulatorControl } from '../../emulator/control-client';
import { startEmulator } from '../../emulator/server';
import type { RunningEmulator } from '../../emulator/server';
import type { DeliveryProfileName } from '../../emulator/webhook-delivery';
import { defaultDeliveryProfile, deliverySeed } from './delivery';
import Stripe from 'stripe';
import { mintToken } from '../../src/services/customers/auth.service';
import type { TestDatabase } from './database';
import { createTestDatabase } from './database';
import { Wakeups, waitForEvent, waitForFeedCount } from './wait';
import { openDatabase } from '../../src/entities/orm';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { startTcpProxy } from './tcp-proxy';
import type { TcpProxy } from './tcp-proxy';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
export const TEST_STRIPE_KEY = 'sk_test_harness_local_emulator';
export const TEST_WEBHOOK_SECRET = 'whsec_test_harness_0123456789abcdef';

export interface GraphQLResponse<T> {
  status: number;
  body: ExecutionResult<T> & { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

export interface TestServer {
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  config: AppConfig;
  database: TestDatabase;
  server: BillingServer;
  /** The local Stripe this server talks to; its webhooks are delivered to this server. */
  emulator: RunningEmulator;
  control: EmulatorControl;
  /** An SDK client on the same emulator, for asserting what Stripe holds. */
  stripe: Stripe;
  token(sub: string, role?: Role, options?: { expiresIn?: string; secret?: string }): Promise<string>;
  /** POSTs an operation as a dashboard would; `token: null` sends no Authorization header. */
  gql<TResult, TVars>(
    document: TypedDocumentNode<TResult, TVars> | string,
    variables?: TVars,
    options?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<TResult>>;
  /** A graphql-ws client authenticated with `token` in connection_init. */
  wsClient(token?: string, options?: { onClose?: (event: { code: number; reason: string }) => void }): WsClient;
  close(): Promise<void>;
}

/**
 * Builds a server through `createServer` on an ephemeral port with its own fresh, migrated database. `clock` is the
 * server's (`ServerOptions.clock`): token expiry, the webhook route's limit, the worker's polls and retries, stale
 * payment attempts. Its Stripe pacing stays on the system clock, like the local Stripe here (which has no rate limit):
 * on a clock that stands still every second Stripe call would wait for the test to move it.
 */
export async function startTestServer(
  env: Env = {},
  options: {
    logger?: Logger;
    queryLog?: (sql: string) => void;
    clock?: Clock;
    /**
     * How the local Stripe delivers webhooks: `realistic` (late, some twice, close events in any order, as Stripe
     * does; seeded by `deliverySeed()`), or `ideal` (once, in order, at once). Default: `defaultDeliveryProfile()`.
     */
    delivery?: DeliveryProfileName;
  } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'billing-test-'));
  const database = await createTestDatabase({ queryLog: options.queryLog });
  const emulator = await startEmulator({
    port: 0,
    webhookSecret: TEST_WEBHOOK_SECRET,
    webhookRetryScheduleMs: [50, 100, 200],
    delivery: { profile: options.delivery ?? defaultDeliveryProfile(), seed: deliverySeed() },
  });
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    STRIPE_SECRET_KEY: TEST_STRIPE_KEY,
    STRIPE_API_BASE: emulator.url,
    STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    DATA_DIR: dataDir,
    // On a test's clock every timer loop is one more sleeper that `whenSleeping(n)` counts: the credit note resumer
    // runs only in the tests that ask for it (tests/payments/credit-note-resume.test.ts).
    ...(options.clock ? { CREDIT_NOTE_RESUME_SECONDS: '0' } : {}),
    ...env,
  });
  const server = await createServer({
    config,
    db: database.db,
    logger: options.logger,
    clock: options.clock,
    gateway: gatewayFromConfig(config),
  });
  const url = await server.listen(0, '127.0.0.1');
  emulator.setWebhookTarget(`${url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
  const graphqlUrl = `${url}/graphql`;
  const wsUrl = graphqlUrl.replace(/^http/, 'ws');
  const clients: WsClient[] = [];
  const serverClock = options.clock ?? systemClock;

  return {
    url,
    graphqlUrl,
    wsUrl,
    config,
    database,
    server,
    emulator,
    control: new EmulatorControl(emulator.url),
    stripe: new Stripe(TEST_STRIPE_KEY, { ...emulator.stripeConfig, maxNetworkRetries: 0 }),
    token: (sub, role = Role.USER, options = {}) =>
      // Issued at the server's time, so a token minted under a ManualClock is not "issued in the future".
      mintToken(options.secret ?? TEST_JWT_SECRET, {
        sub,
        role,
        expiresIn: options.expiresIn ?? '1h',
        issuedAt: serverClock.now(),
      }),
    async gql(document, variables, options = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
      if (options.token) {
        headers.authorization = `Bearer ${options.token}`;
      }
      const res = await fetch(graphqlUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
      });
      return { status: res.status, body: (await res.json()) as GraphQLResponse<never>['body'] };
    },
    wsClient(token, options = {}) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        lazy: false,
        retryAttempts: 0,
        connectionParams: token ? { authorization: `Bearer ${token}` } : {},
        on: {
          closed: (event) => options.onClose?.(event as { code: number; reason: string }),
        },
        onNonLazyError: () => undefined,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await server.close();
      await emulator.stop();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs one operation over graphql-ws and resolves with its single result. */
export function wsExecute<T>(
  client: WsClient,
  query: string,
  variables?: Record<string, unknown>,
): Promise<ExecutionResult<T>> {
  return new Promise((resolve, reject) => {
    let result: ExecutionResult<T> | undefined;
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          result = value as ExecutionResult<T>;
        },
        error: reject,
        complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
      },
    );
  });
}

/**
 * `collect`, resolved once `server` has the subscription open: a change made after this is never missed. (The
 * protocol does not acknowledge a subscribe; the server's count of open feeds does.)
 */
export async function collectOpen<T>(
  server: BillingServer,
  client: WsClient,
  query: string,
  variables?: Record<string, unknown>,
): Promise<Collected<T>> {
  const before = server.statusFeeds();
  const feed = collect<T>(client, query, variables);
  // Open once the server counts it, or refused: woken by the server's feed count and by the subscription's messages.
  await waitForFeedCount(
    server,
    'the subscription to open',
    (count) => count > before || feed.errors.length > 0,
    (wake) => feed.onUpdate(wake),
  );
  return feed;
}

/** Resolves once `server` has at least `count` status feeds open (a browser's subscription, say). */
export function waitForStatusFeeds(server: BillingServer, count: number): Promise<void> {
  return waitForFeedCount(server, `${count} status feed(s) to open`, (open) => open >= count);
}

export interface Collected<T> {
  events: T[];
  errors: unknown[];
  /** Resolves once `count` events have arrived (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves with the first error the subscription reports. */
  failed(timeoutMs?: number): Promise<unknown>;
  /** Calls `listener` on every message (event, error, completion); returns its removal. */
  onUpdate(listener: () => void): () => void;
  stop(): void;
}

/** Subscribes over graphql-ws and collects every `data` payload, as a dashboard would. */
export function collect<T>(client: WsClient, query: string, variables?: Record<string, unknown>): Collected<T> {
  const events: T[] = [];
  const errors: unknown[] = [];
  const updates = new Wakeups();
  const notify = (): void => updates.wake();
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) {
          errors.push(value.errors);
        } else if (value.data) {
          events.push(value.data as T);
        }
        notify();
      },
      error: (error) => {
        errors.push(error);
        notify();
      },
      complete: notify,
    },
  );
  const until = (done: () => boolean, timeoutMs: number, what: string): Promise<void> =>
    waitForEvent(() => `${what}; got ${JSON.stringify(events)}`, done, updates.subscribe, timeoutMs);
  return {
    events,
    errors,
    waitFor: async (count, timeoutMs = WAIT_GUARD_MS) => {
      await until(() => events.length >= count, timeoutMs, `${count} events`);
      return events.slice(0, count);
    },
    failed: async (timeoutMs = WAIT_GUARD_MS) => {
      await until(() => errors.length > 0, timeoutMs, 'an error');
      return errors[0];
    },
    onUpdate: updates.subscribe,
    stop,
  };
}

/** A server whose database connection goes through a TCP proxy a test can cut and restore (PostgreSQL only). */
export interface ProxiedServer {
  database: TestDatabase;
  proxy: TcpProxy;
  server: BillingServer;
  url: string;
  /** A service token (the platform recording usage). */
  serviceToken: string;
  close(): Promise<void>;
}

/**
 * Starts a server on a fresh database (default catalogue seeded) reached through `startTcpProxy`, so a test can take
 * the database away from this server while the shared PostgreSQL server keeps serving every other test. Nothing in
 * it calls Stripe (`STRIPE_API_BASE` is a port nobody listens on); `env` adds to its configuration.
 */
export async function startProxiedServer(env: Env = {}): Promise<ProxiedServer> {
  const database = await createTestDatabase();
  await seedDefaultCatalogue(database.db.orm.em.fork());
  const direct = new URL(database.url as string);
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const through = new URL(direct);
  through.hostname = proxy.host;
  through.port = String(proxy.port);
  const proxied = await openDatabase({ databaseUrl: through.toString(), poolMax: 3 });
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    STRIPE_SECRET_KEY: TEST_STRIPE_KEY,
    STRIPE_API_BASE: 'http://127.0.0.1:9',
    DUNNING_INTERVAL_SECONDS: '0',
    ...env,
  });
  const server = await createServer({ config, db: proxied });
  const url = await server.listen(0, '127.0.0.1');
  const serviceToken = await mintToken(TEST_JWT_SECRET, { sub: 'platform', role: Role.SERVICE, expiresIn: '1h' });
  return {
    database,
    proxy,
    server,
    url,
    serviceToken,
    async close() {
      proxy.restore();
      await server.close();
      await proxied.close();
      await proxy.close();
      await database.drop();
    },
  };
}
