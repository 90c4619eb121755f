import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import type { Fetcher, FetcherOpts, FetcherParams, FetcherReturnType } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import type { Client } from 'graphql-ws';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { TOKEN_STORAGE_KEY } from './session';

/**
 * GraphiQL, bundled with the server: queries and mutations over `POST /graphql`, subscriptions over graphql-ws at the
 * same path, with the Authorization header of the header editor sent in `connection_init` (the server reads the
 * token there, as browsers cannot set headers on a WebSocket).
 */
const httpUrl = new URL('/graphql', location.href).toString();
const wsUrl = httpUrl.replace(/^http/, 'ws');
const overHttp = createGraphiQLFetcher({ url: httpUrl });

const sockets = new Map<string, Client>();
function socketFor(authorization: string): Client {
  let client = sockets.get(authorization);
  if (!client) {
    client = createClient({ url: wsUrl, lazy: true, connectionParams: authorization ? { authorization } : {} });
    sockets.set(authorization, client);
  }
  return client;
}

function authorizationOf(opts: FetcherOpts | undefined): string {
  const headers = (opts?.headers ?? {}) as Record<string, unknown>;
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization');
  return typeof entry?.[1] === 'string' ? entry[1] : '';
}

function isSubscription(params: FetcherParams): boolean {
  const source = params.query.replace(/#[^\n]*/g, '');
  if (params.operationName) {
    return new RegExp(`subscription\\s+${params.operationName}\\b`).test(source);
  }
  return /^\s*subscription\b/.test(source);
}

const fetcher: Fetcher = (params, opts) => {
  if (!isSubscription(params)) {
    return overHttp(params, opts);
  }
  // GraphiQL shows errors as they arrive, formatted (JSON) or not: the cast only widens graphql-ws's type.
  return socketFor(authorizationOf(opts)).iterate({
    query: params.query,
    variables: (params.variables ?? undefined) as Record<string, unknown> | undefined,
    operationName: params.operationName ?? undefined,
  }) as unknown as FetcherReturnType;
};

const token = sessionStorage.getItem(TOKEN_STORAGE_KEY);
const defaultHeaders = JSON.stringify(
  { Authorization: `Bearer ${token ?? '<token: npm run -s token -- --sub alice>'}` },
  null,
  2,
);
const defaultQuery = `# AgentHub Billing's GraphQL API. Put your token in the Authorization header below, then run.
# Subscriptions (paymentStatusChanged) stream over WebSocket from this same page.
query MyInvoices {
  invoices(first: 5) {
    totalCount
    edges {
      node {
        number
        status
        amount {
          formatted
        }
      }
    }
  }
}
`;

// `/graphql?query=…` opens with that operation (a link can carry one), like GraphiQL's classic page.
const linkedQuery = new URLSearchParams(location.search).get('query') ?? undefined;

createRoot(document.getElementById('explorer') as HTMLElement).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={defaultQuery}
      initialQuery={linkedQuery}
      defaultHeaders={defaultHeaders}
      initialHeaders={token ? defaultHeaders : undefined}
      defaultEditorToolsVisibility="headers"
      isHeadersEditorEnabled
    >
      {/* Our title, linking to the dashboard on this origin (GraphiQL's own links to GitHub, out of reach offline). */}
      <GraphiQL.Logo>
        <a href="/">AgentHub Billing</a>
      </GraphiQL.Logo>
    </GraphiQL>
  </StrictMode>,
);
