import { createClient } from 'graphql-ws';
import type { Client } from 'graphql-ws';
import type { TypedDocumentString } from './generated/graphql';

/** A GraphQL error (`extensions.code`: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND…) or a failed request. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** One operation over `POST /graphql`, as any client of the public API. */
export async function request<R, V>(document: TypedDocumentString<R, V>, variables: V, token: string): Promise<R> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch {
    throw new ApiError('The billing server cannot be reached. Check your connection and try again.', 'NETWORK');
  }
  const body = (await response.json().catch(() => ({}))) as {
    data?: R;
    errors?: Array<{ message: string; extensions?: { code?: string } }>;
  };
  const [error] = body.errors ?? [];
  if (error) {
    throw new ApiError(error.message, error.extensions?.code);
  }
  if (!response.ok || body.data === undefined) {
    throw new ApiError(`The billing server answered ${response.status}.`, 'HTTP');
  }
  return body.data;
}

let socket: { token: string; client: Client } | undefined;
const reconnectListeners = new Set<() => void>();

/** One graphql-ws connection per signed-in token, shared by every live view. */
function client(token: string): Client {
  if (socket?.token !== token) {
    void socket?.client.dispose();
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    let connectedBefore = false;
    const created = createClient({
      url,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: Infinity,
      shouldRetry: () => true,
    });
    // After a reconnect, changes made while offline were not pushed: views reload what they show.
    created.on('connected', () => {
      if (connectedBefore) {
        reconnectListeners.forEach((listener) => listener());
      }
      connectedBefore = true;
    });
    socket = { token, client: created };
  }
  return socket.client;
}

export function closeLiveConnection(): void {
  void socket?.client.dispose();
  socket = undefined;
}

/** Subscribes over graphql-ws; returns the unsubscribe function. `onReconnect` runs after a dropped link returns. */
export function subscribe<R, V>(
  document: TypedDocumentString<R, V>,
  variables: V,
  token: string,
  handlers: { next: (data: R) => void; error?: (error: ApiError) => void; onReconnect?: () => void },
): () => void {
  const { onReconnect } = handlers;
  if (onReconnect) {
    reconnectListeners.add(onReconnect);
  }
  const stop = client(token).subscribe<R>(
    { query: document.toString(), variables: variables as Record<string, unknown> },
    {
      next: (result) => {
        if (result.data) {
          handlers.next(result.data);
        }
      },
      error: (error: unknown) => {
        const message = Array.isArray(error)
          ? String((error[0] as { message?: string })?.message)
          : 'Live updates are unavailable';
        handlers.error?.(new ApiError(message, 'LIVE'));
      },
      complete: () => {},
    },
  );
  return () => {
    if (onReconnect) {
      reconnectListeners.delete(onReconnect);
    }
    stop();
  };
}
