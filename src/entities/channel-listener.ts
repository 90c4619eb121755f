import { Client } from 'pg';
import type { Clock } from '../config/clock';
import type { Logger } from '../config/logger';
import type { Backoff } from '../lib/backoff';
import { backoffDelayMs } from '../lib/backoff';
import type { Database } from './orm';

export interface ChannelListenerOptions {
  /** The channel to LISTEN on. */
  channel: string;
  /** Names the listener in its log lines ("status", "billing run"). */
  name: string;
  onNotification: (payload: string) => void;
  /** The connection dropped: notifications sent from now until `onBack` are lost. */
  onLost?: () => void;
  /** Listening again after a loss: whatever was committed meanwhile is for the owner to read. */
  onBack: (attempt: number) => void;
  clock: Clock;
  /** Waits before the n-th reconnect. */
  backoff: Backoff;
  log: Logger;
}

/**
 * LISTEN on one channel for as long as it runs. On PostgreSQL, a dedicated connection (LISTEN needs a session that
 * the pool will not hand to anyone else), reconnected with backoff on the given clock when it drops; its owner is
 * told of the loss and of the return, since notifications sent in between are gone. On the embedded PGlite, an
 * in-process listener, which cannot drop.
 */
export class ChannelListener {
  private readonly stopping = new AbortController();
  private client: Client | undefined;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly options: ChannelListenerOptions,
  ) {}

  /** True while notifications arrive: the connection is up (always, on PGlite). */
  get connected(): boolean {
    return Boolean(this.client ?? this.db.pglite);
  }

  /** Starts listening; fails if the first connection cannot be made (no reconnect is tried then). */
  async start(): Promise<void> {
    const pglite = this.db.pglite;
    if (pglite) {
      this.unlisten = await pglite.listen(this.options.channel, (payload) => this.options.onNotification(payload));
    } else {
      await this.connect();
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.unlisten?.();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.db.url });
    client.on('notification', (message) => message.payload && this.options.onNotification(message.payload));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
    } catch (error) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
  }

  private lost(client: Client, error?: Error): void {
    if (client !== this.client || this.stopping.signal.aborted) {
      return;
    }
    this.client = undefined;
    this.options.onLost?.();
    this.options.log.warn({ err: error }, `${this.options.name} LISTEN connection lost: reconnecting`);
    client.end().catch(() => undefined);
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const { clock, backoff, log, name } = this.options;
    for (let attempt = 0; !this.stopping.signal.aborted; attempt += 1) {
      await clock.sleep(backoffDelayMs(backoff, attempt), { signal: this.stopping.signal, unref: true });
      if (this.stopping.signal.aborted) {
        return;
      }
      try {
        await this.connect();
      } catch (error) {
        log.warn({ err: error, attempt }, `${name} LISTEN reconnect failed`);
        continue;
      }
      log.info({ attempt }, `${name} LISTEN connection back`);
      this.options.onBack(attempt);
      return;
    }
  }
}
