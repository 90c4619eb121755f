import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Clock } from '../../config/clock';
import { systemClock } from '../../config/clock';
import type { Logger } from '../../config/logger';
import { ChannelListener } from '../../entities/channel-listener';
import type { Database } from '../../entities/orm';
import { STATUS_CHANNEL } from '../invoicing/invoice-status';
import type { StatusNotification } from '../invoicing/invoice-status';
import type { Backoff } from '../../lib/backoff';
import { backoffDelayMs } from '../../lib/backoff';
import { FEED_SQL_COMMENT, readChangeRows, readInvoiceViews, toStatusChangeEvent } from './status-change-reader';
import type { StatusChangeEvent } from './status-change-reader';
import type { FeedFilter } from './status-feed-index';
import { FeedIndex, StatusFeed } from './status-feed-index';

/**
 * The listener's reconnect: 250 ms doubling to 30 s, plus up to 20 % at random so that instances cut off by the same
 * outage do not all reconnect in the same millisecond.
 */
export const RECONNECT_BACKOFF: Backoff = { baseMs: 250, maxMs: 30_000, jitter: 0.2 };

export type { StatusChangeEvent } from './status-change-reader';

/** `ok`: listening, nothing missed. `reconnecting`: the LISTEN connection was lost; changes are caught up once back. */
export type StatusFeedState = 'starting' | 'ok' | 'reconnecting' | 'stopped';

export interface StatusHubOptions {
  /** Times the reconnect backoff and the history window. Default: the system clock. */
  clock?: Clock;
  /** Waits before the n-th reconnect or retry (default `RECONNECT_BACKOFF`). */
  backoff?: Backoff;
  /** Subscribers handed a change before the hub yields to the event loop (default 100). */
  sliceSize?: number;
  /**
   * How long a delivered change id is remembered (default 2 minutes). Ids come from a sequence, so a transaction
   * may commit a lower id after a higher one was delivered; the catch-up after a reconnect rereads ids above the
   * highest one delivered longer ago than this, skipping those it remembers: a transaction open longer than this
   * while the listener was away could be missed.
   */
  historyWindowMs?: number;
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Invoice owners read per statement by `invoiceOwner`. */
const OWNERS_PER_READ = 1000;

interface OwnerLookup {
  invoiceId: string;
  resolve: (owner: string | undefined) => void;
  reject: (error: unknown) => void;
}

/** Notifications read per batch: one read of change rows and one of invoices per batch, whatever its size. */
const BATCH = 500;

/**
 * Fans committed status changes out to this instance's subscribers. Every instance LISTENs on the channel that
 * `transitionInvoice` NOTIFYs inside its transaction, so a change made through any instance reaches subscribers on
 * all of them, and a rolled-back change reaches none. The payload holds ids only.
 *
 * Per change (per batch of changes) and instance, the hub reads the change rows once and the invoices the
 * subscribers want once, then hands the same event to every subscriber that may want it (found through `FeedIndex`),
 * a slice at a time so the event loop keeps serving requests during a large fan-out.
 *
 * Never silent: when the LISTEN connection drops, the hub reconnects with backoff and then delivers the changes
 * committed meanwhile from the status history (`invoice_status_changes`), in id order, each once.
 */
export class StatusChangeHub {
  private readonly countListeners = new Set<() => void>();
  private readonly stateListeners = new Set<() => void>();
  private readonly index = new FeedIndex();
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly sliceSize: number;
  private readonly historyWindowMs: number;
  private readonly stopping = new AbortController();
  /** Change ids notified and not yet handled, in notification (commit) order. */
  private pending: string[] = [];
  /** Change ids handled recently (delivered, or nobody listened), with when: see `historyWindowMs`. */
  private readonly handled = new Map<string, number>();
  /** Every change id at or below this was handled or will never commit (see `historyWindowMs`). */
  private floor = 0n;
  private floorUnknown = false;
  private catchUpNeeded = false;
  private working = false;
  private readonly listener: ChannelListener;
  private currentState: StatusFeedState = 'starting';
  private ownerLookups: OwnerLookup[] = [];

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    options: StatusHubOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.backoff = options.backoff ?? RECONNECT_BACKOFF;
    this.sliceSize = options.sliceSize ?? 100;
    this.historyWindowMs = options.historyWindowMs ?? 120_000;
    this.listener = new ChannelListener(db, {
      channel: STATUS_CHANNEL,
      name: 'status',
      onNotification: (payload) => this.onNotification(payload),
      onLost: () => {
        this.setState('reconnecting');
        this.catchUpNeeded = true;
      },
      // Changes committed meanwhile are caught up from the history.
      onBack: () => this.kick(),
      clock: this.clock,
      backoff: this.backoff,
      log,
    });
  }

  get state(): StatusFeedState {
    return this.currentState;
  }

  /** Calls `listener` whenever the state changes (ok, reconnecting, stopped); returns the unsubscribe. */
  onStateChange(listener: () => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  private setState(state: StatusFeedState): void {
    if (state !== this.currentState) {
      this.currentState = state;
      this.stateListeners.forEach((listener) => listener());
    }
  }

  async start(): Promise<void> {
    await this.listener.start();
    try {
      this.floor = await this.highestChangeId();
    } catch (error) {
      // A server may start before its migrations run (`/readyz` says so): the first catch-up sets the floor.
      this.log.warn({ err: error }, 'status history unreadable at start');
      this.floorUnknown = true;
    }
    // Before migrations the tables are missing: nothing to warm, and the first change pays for it.
    await this.warmUp().catch(() => undefined);
    this.setState('ok');
  }

  async stop(): Promise<void> {
    this.setState('stopped');
    this.stopping.abort();
    for (const feed of this.index.all()) {
      feed.close();
    }
    await this.listener.stop();
  }

  /** Feeds open now: one per open `paymentStatusChanged` subscription on this instance. */
  get listenerCount(): number {
    return this.index.size;
  }

  /** Calls `listener` whenever a feed opens or closes (a test waiting for a subscription, say); returns its removal. */
  onListenerCountChange(listener: () => void): () => void {
    this.countListeners.add(listener);
    return () => this.countListeners.delete(listener);
  }

  /**
   * The user id owning each invoice asked for in the same turn of the event loop, in one statement per 1,000: a
   * thousand dashboards subscribing at once (after a deploy) cost a few reads, not a thousand, and leave no heap of
   * pending queries behind. Undefined for an invoice that does not exist.
   */
  invoiceOwner(invoiceId: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      if (this.ownerLookups.length === 0) {
        setImmediate(() => void this.readOwners(this.ownerLookups.splice(0)));
      }
      this.ownerLookups.push({ invoiceId, resolve, reject });
    });
  }

  private async readOwners(lookups: OwnerLookup[]): Promise<void> {
    for (let start = 0; start < lookups.length; start += OWNERS_PER_READ) {
      const slice = lookups.slice(start, start + OWNERS_PER_READ);
      try {
        const rows = (await this.db.orm.em
          .fork()
          .getConnection()
          .execute(
            `/* ${FEED_SQL_COMMENT} */ select i.id::text as id, c.external_user_id from invoices i join customers c on c.id = i.customer_id where i.id = any(?::uuid[])`,
            // A Postgres array literal: an array binding would be spread into a list. The ids are checked UUIDs.
            [`{${[...new Set(slice.map((lookup) => lookup.invoiceId))].join(',')}}`],
          )) as Array<{ id: string; external_user_id: string }>;
        const owners = new Map(rows.map((row) => [row.id, row.external_user_id]));
        slice.forEach((lookup) => lookup.resolve(owners.get(lookup.invoiceId)));
      } catch (error) {
        slice.forEach((lookup) => lookup.reject(error));
      }
    }
  }

  /** Opens a feed of the changes that pass `filter`, from now on; closing it (`return`) removes it. */
  subscribe(filter: FeedFilter): StatusFeed {
    const feed = new StatusFeed(filter, (closed) => {
      this.index.remove(closed);
      this.countListeners.forEach((listener) => listener());
    });
    this.index.add(feed);
    this.countListeners.forEach((listener) => listener());
    return feed;
  }

  private onNotification(payload: string): void {
    try {
      const { changeId } = JSON.parse(payload) as StatusNotification;
      this.pending.push(String(changeId));
    } catch (error) {
      this.log.error({ err: error }, 'unreadable status notification');
      return;
    }
    this.kick();
  }

  private kick(): void {
    if (this.working || this.stopping.signal.aborted) {
      return;
    }
    this.working = true;
    this.work()
      .catch((error: unknown) => this.log.error({ err: error }, 'status feed failed'))
      .finally(() => {
        this.working = false;
        // Work that arrived while this run was ending: a catch-up waits for the LISTEN connection.
        if (this.catchUpNeeded ? this.listener.connected : this.pending.length > 0) {
          this.kick();
        }
      });
  }

  /** One worker at a time, so changes go out in order: first any catch-up, then notifications in batches. */
  private async work(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      try {
        if (this.catchUpNeeded) {
          if (!this.listener.connected) {
            return; // the reconnect kicks the worker again once LISTEN is back
          }
          await this.catchUp();
          this.catchUpNeeded = false;
          this.setState('ok');
        } else {
          const batch = this.pending.splice(0, BATCH);
          if (batch.length === 0) {
            return;
          }
          await this.handle(batch);
        }
        failures = 0;
      } catch (error) {
        // Whatever this batch did not deliver is reread from the history, after the failed read is retried.
        this.log.warn({ err: error }, 'status feed read failed: catching up after a pause');
        this.catchUpNeeded = true;
        await this.clock.sleep(backoffDelayMs(this.backoff, failures), { signal: this.stopping.signal, unref: true });
        failures += 1;
      }
    }
  }

  /** Changes committed while nobody listened: every id above the floor not handled yet, in id order. */
  private async catchUp(): Promise<void> {
    if (this.floorUnknown) {
      this.floor = await this.highestChangeId();
      this.floorUnknown = false;
    }
    let cursor = this.floor;
    let count = 0;
    for (;;) {
      const rows = (await this.db.orm.em
        .fork()
        .getConnection()
        .execute(
          `/* ${FEED_SQL_COMMENT} */ select id::text as id from invoice_status_changes where id > ? order by id limit ?`,
          [cursor.toString(), BATCH],
        )) as Array<{ id: string }>;
      const missed = rows.map((row) => row.id).filter((id) => !this.handled.has(id));
      count += missed.length;
      if (missed.length > 0) {
        await this.handle(missed);
      }
      if (rows.length < BATCH) {
        break;
      }
      cursor = BigInt(rows[rows.length - 1].id);
    }
    this.pending = this.pending.filter((id) => !this.handled.has(id));
    if (count > 0) {
      this.log.info({ changes: count }, 'status feed caught up');
    }
  }

  /** Reads a batch of changes once and delivers each, in the given order. */
  private async handle(ids: string[]): Promise<void> {
    const fresh = ids.filter((id) => !this.handled.has(id));
    if (this.index.size > 0 && fresh.length > 0) {
      const em = this.db.orm.em.fork();
      const rows = await readChangeRows(em, { ids: fresh });
      const wanted = rows.filter((row) => this.index.hasCandidates(row.invoiceId, row.userId));
      const views = await readInvoiceViews(em, [...new Set(wanted.map((row) => row.invoiceId))]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const id of fresh) {
        const row = byId.get(id);
        const view = row && views.get(row.invoiceId);
        if (row && view) {
          await this.fanOut(toStatusChangeEvent(row, view));
        }
        this.markHandled(id);
      }
    } else {
      fresh.forEach((id) => this.markHandled(id));
    }
    this.forgetOld();
  }

  /** Hands the event to every feed that may want it, yielding to the event loop between slices. */
  private async fanOut(event: StatusChangeEvent): Promise<void> {
    const feeds = this.index.candidates(event.invoiceId, event.userId);
    for (let start = 0; start < feeds.length; start += this.sliceSize) {
      if (start > 0) {
        await yieldToEventLoop();
      }
      const end = Math.min(feeds.length, start + this.sliceSize);
      for (let i = start; i < end; i += 1) {
        feeds[i].push(event);
      }
    }
  }

  private markHandled(id: string): void {
    this.handled.set(id, this.clock.now());
  }

  /** Raises the floor past ids handled longer ago than the window (the map is in handling order). */
  private forgetOld(): void {
    const before = this.clock.now() - this.historyWindowMs;
    for (const [id, at] of this.handled) {
      if (at > before) {
        break;
      }
      const value = BigInt(id);
      if (value > this.floor) {
        this.floor = value;
      }
      this.handled.delete(id);
    }
  }

  /**
   * Runs the two reads of a change once, on nothing: the first change after a start otherwise waits for the pool's
   * first connection and the driver's cold paths (~40 ms when the change rows were read through the ORM; measured by
   * bench:live, where it was the slowest change).
   */
  private async warmUp(): Promise<void> {
    const em = this.db.orm.em.fork();
    await readChangeRows(em, { ids: ['0'] });
    await readInvoiceViews(em, [NIL_UUID]);
  }

  private async highestChangeId(): Promise<bigint> {
    const [row] = (await this.db.orm.em
      .fork()
      .getConnection()
      .execute(
        `/* ${FEED_SQL_COMMENT} */ select coalesce(max(id), 0)::text as id from invoice_status_changes`,
      )) as Array<{ id: string }>;
    return BigInt(row?.id ?? '0');
  }
}
