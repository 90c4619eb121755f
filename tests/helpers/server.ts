import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { ExecutionResult } from 'graphql';
import { createClient } from 'graphql-ws';
import type { Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/config';
import type { AppConfig, Env } from '../../src/config/config';
import type { Logger } from '../../src/config/logger';
import { Role } from '../../src/entities/enums';
import type { BillingServer } from '../../src/server';
import { createServer } from '../../src/server';
import { mintToken } from '../../src/services/auth.service';
import type { TestDatabase } from './database';
import { createTestDatabase } from './database';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
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

/** Builds a server through `createServer` on an ephemeral port with its own fresh, migrated database. */
export async function startTestServer(env: Env = {}, options: { logger?: Logger } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'billing-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: TEST_JWT_SECRET,
    STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    DATA_DIR: dataDir,
    ...env,
  });
  const database = await createTestDatabase();
  const server = await createServer({ config, db: database.db, logger: options.logger });
  const url = await server.listen(0, '127.0.0.1');
  const graphqlUrl = `${url}/graphql`;
  const wsUrl = graphqlUrl.replace(/^http/, 'ws');
  const clients: WsClient[] = [];

  return {
    url,
    graphqlUrl,
    wsUrl,
    config,
    database,
    server,
    token: (sub, role = Role.USER, options = {}) =>
      mintToken(options.secret ?? TEST_JWT_SECRET, { sub, role, expiresIn: options.expiresIn ?? '1h' }),
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
