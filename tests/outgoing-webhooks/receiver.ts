import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { Wakeups } from '../helpers/wait';

/** A message the receiver accepted (answered 2xx), as the platform would see it. */
export interface Received {
  id: string;
  type: string;
  invoiceId: string | null;
  /** Indexes (into `secrets`) of the secrets whose signature verified. */
  verifiedBy: number[];
  /** The message's `data`. */
  data: Record<string, unknown>;
}

/**
 * The platform's side, as its engineers would write it: an HTTP server that verifies every message with the
 * `standardwebhooks` library against the secrets it knows, answers 401 when none verifies, and otherwise answers
 * as the test says: 204 (accepted), 500 (an outage), or not at all (`stop()`: the port refuses connections).
 */
export class Receiver {
  secrets: string[] = [];
  mode: 'ok' | 'fail' = 'ok';
  readonly accepted: Received[] = [];
  /** Every request that reached it, verified or not, with the answer it got. */
  readonly requests: Array<{ id: string; status: number }> = [];
  /** Woken after every request answered: for `waitForEvent`. */
  readonly changes = new Wakeups();
  private server?: http.Server;
  private port = 0;
  /** Answers waiting for `release()`; null when not holding. */
  private held: Array<() => void> | null = null;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = Object.fromEntries(
          ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(req.headers[h] ?? '')]),
        );
        const verifiedBy = this.secrets.flatMap((secret, index) => {
          try {
            new Webhook(secret).verify(body, headers);
            return [index];
          } catch {
            return [];
          }
        });
        const answer = (): void => this.answer(res, headers['webhook-id'], body, verifiedBy);
        if (this.held) {
          this.held.push(answer);
          this.changes.wake();
        } else {
          answer();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** From now on, requests wait unanswered (a delivery stays in flight) until `release()`. */
  hold(): void {
    this.held ??= [];
  }

  /** How many requests `hold()` keeps waiting. */
  get heldCount(): number {
    return this.held?.length ?? 0;
  }

  /** Answers the requests held, in arrival order, and answers at once again. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    held.forEach((answer) => answer());
  }

  private answer(res: http.ServerResponse, id: string, body: string, verifiedBy: number[]): void {
    const status = verifiedBy.length === 0 ? 401 : this.mode === 'fail' ? 500 : 204;
    this.requests.push({ id, status });
    if (status === 204) {
      const message = JSON.parse(body) as {
        type: string;
        data: { invoice?: { id: string } } & Record<string, unknown>;
      };
      this.accepted.push({
        id,
        type: message.type,
        invoiceId: message.data.invoice?.id ?? null,
        verifiedBy,
        data: message.data,
      });
    }
    res.writeHead(status).end();
    this.changes.wake();
  }

  /** Down: the port refuses connections until `start()` listens on it again. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  /** The accepted types per invoice, in arrival order. */
  typesByInvoice(): Record<string, string[]> {
    const byInvoice: Record<string, string[]> = {};
    for (const m of this.accepted) {
      if (m.invoiceId) {
        (byInvoice[m.invoiceId] ??= []).push(m.type);
      }
    }
    return byInvoice;
  }
}
