import { Client } from 'pg';
import type { Logger } from '../../config/logger';
import { InvoiceStatusChange } from '../../entities';
import type { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import type { Database } from '../../entities/orm';
import { STATUS_CHANNEL } from '../invoicing/invoice-status';
import type { StatusNotification } from '../invoicing/invoice-status';

/** A committed status change, as subscribers receive it. */
export interface StatusChangeEvent {
  invoiceId: string;
  userId: string;
  status: InvoiceStatus;
  previousStatus: InvoiceStatus | null;
  occurredAt: Date;
  reason: string | null;
  source: StatusChangeSource;
}

type Listener = (event: StatusChangeEvent) => void;

/**
 * Fans committed status changes out to this instance's subscribers. Every instance LISTENs on the channel that
 * `transitionInvoice` NOTIFYs inside its transaction, so a change made through any instance reaches subscribers on
 * all of them, and a rolled-back change reaches none. The payload holds ids only; the change is read back here.
 */
export class StatusChangeHub {
  private readonly listeners = new Set<Listener>();
  private client?: Client;
  private unlisten?: () => Promise<void>;

  constructor(
    private readonly db: Database,
    private readonly databaseUrl: string | undefined,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const onPayload = (payload: string): void => {
      this.deliver(payload).catch((error: unknown) => this.log.error({ err: error }, 'status notification failed'));
    };
    if (this.db.pglite) {
      this.unlisten = await this.db.pglite.listen(STATUS_CHANNEL, onPayload);
      return;
    }
    // A dedicated connection: LISTEN needs a session that the pool will not hand to anyone else.
    this.client = new Client({ connectionString: this.databaseUrl });
    this.client.on('notification', (message) => message.payload && onPayload(message.payload));
    this.client.on('error', (error) => this.log.error({ err: error }, 'status LISTEN connection failed'));
    await this.client.connect();
    await this.client.query(`LISTEN ${STATUS_CHANNEL}`);
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    await this.unlisten?.();
    await this.client?.end();
  }

  /** Listeners registered now: one per open `paymentStatusChanged` subscription on this instance. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Registers a listener; returns the function that removes it. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An async iterator of the changes that pass `filter`, for a GraphQL subscription. */
  subscribe(filter: (event: StatusChangeEvent) => boolean): AsyncIterableIterator<StatusChangeEvent> {
    const queue: StatusChangeEvent[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const off = this.onChange((event) => {
      if (filter(event)) {
        queue.push(event);
        wake?.();
      }
    });
    const finish = async (): Promise<IteratorResult<StatusChangeEvent>> => {
      done = true;
      off();
      wake?.();
      return { value: undefined, done: true };
    };
    const iterator: AsyncIterableIterator<StatusChangeEvent> = {
      async next() {
        while (!done && queue.length === 0) {
          await new Promise<void>((resolve) => (wake = resolve));
        }
        return done ? { value: undefined, done: true } : { value: queue.shift() as StatusChangeEvent, done: false };
      },
      return: finish,
      throw: finish,
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  private async deliver(payload: string): Promise<void> {
    if (this.listeners.size === 0) {
      return;
    }
    const { changeId } = JSON.parse(payload) as StatusNotification;
    const change = await this.db.orm.em
      .fork()
      .findOne(InvoiceStatusChange, { id: changeId }, { populate: ['invoice', 'invoice.customer'] });
    if (!change) {
      return;
    }
    const event: StatusChangeEvent = {
      invoiceId: change.invoice.id,
      userId: change.invoice.customer.externalUserId,
      status: change.toStatus,
      previousStatus: change.fromStatus ?? null,
      occurredAt: change.occurredAt,
      reason: change.reason ?? null,
      source: change.source,
    };
    for (const listener of this.listeners) {
      listener(event);
    }
  }
}
