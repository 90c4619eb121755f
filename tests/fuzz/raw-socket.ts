import WebSocket from 'ws';
import { ANSWER_BUDGET_MS } from './fuzz-harness';
import { Wakeups, waitForEvent } from '../helpers/wait';

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A WebSocket that sends whatever it is given (no client library in the way) and records everything the server
 * sends back: its text frames and how it closed. `until` waits for a frame or the close, with the hang budget.
 */
export class RawSocket {
  readonly frames: string[] = [];
  closed: Closed | null = null;
  private readonly updates = new Wakeups();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      this.frames.push(Buffer.isBuffer(data) ? data.toString() : String(data));
      this.updates.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.updates.wake();
    });
    // A socket the server closed for a protocol error (a frame too large) reports it here too; `closed` says how.
    ws.on('error', () => this.updates.wake());
  }

  /** Opens a socket to `url`; `protocols` as the client offers them (graphql-ws's by default). */
  static open(url: string, protocols: readonly string[] = ['graphql-transport-ws']): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, [...protocols], { handshakeTimeout: ANSWER_BUDGET_MS });
      const socket = new RawSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a frame unless the socket is closing; a frame sent meanwhile is dropped, as by any client. */
  send(data: string | Buffer, binary = false): void {
    if (this.open) {
      this.ws.send(data, { binary });
    }
  }

  /** The parsed frames (those that are JSON), in order. */
  messages(): Array<Record<string, unknown>> {
    return this.frames.flatMap((frame) => {
      try {
        const parsed: unknown = JSON.parse(frame);
        return parsed !== null && typeof parsed === 'object' ? [parsed as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  /**
   * Resolves once `done()` holds or the socket has closed, re-checked on every frame and on the close. Rejects
   * after the hang budget: an answer that never came.
   */
  until(done: () => boolean, what: string): Promise<void> {
    return waitForEvent(
      `an answer within ${ANSWER_BUDGET_MS} ms (else a hang): ${what}`,
      () => done() || this.closed !== null,
      this.updates.subscribe,
      ANSWER_BUDGET_MS,
    );
  }

  /** Calls `listener` on every frame and on the close; returns its removal. */
  onUpdate(listener: () => void): () => void {
    return this.updates.subscribe(listener);
  }

  /** Closes the socket and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.ws.close(1000);
    await this.until(() => false, 'the socket to close');
  }
}

/** Opens a graphql-ws connection and waits for its `connection_ack` (or its refusal). */
export async function acknowledged(url: string, token: string | null): Promise<RawSocket> {
  const socket = await RawSocket.open(url);
  socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }));
  await socket.until(() => socket.messages().some((m) => m.type === 'connection_ack'), 'connection_ack');
  return socket;
}
