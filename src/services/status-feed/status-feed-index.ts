import type { StatusChangeEvent } from './status-change-reader';

/** What one subscription watches, decided once at subscribe time by the access rule (null: any). */
export interface FeedFilter {
  invoiceId: string | null;
  userId: string | null;
}

/**
 * One subscription's stream: an async iterator over the changes its filter lets through. Kept small on purpose
 * (a filter, a queue that is empty between changes, a wake-up): an instance holds thousands.
 */
export class StatusFeed implements AsyncIterableIterator<StatusChangeEvent> {
  private queue: StatusChangeEvent[] = [];
  private wake: (() => void) | undefined;
  private sink: ((event: StatusChangeEvent) => void) | undefined;
  private done = false;
  /** Changes already replayed from the history (a resumed subscription): never delivered twice. */
  private replayed: Set<string> | undefined;

  constructor(
    readonly filter: FeedFilter,
    private readonly detach: (feed: StatusFeed) => void,
  ) {}

  push(event: StatusChangeEvent): void {
    const { invoiceId, userId } = this.filter;
    if (
      this.done ||
      (invoiceId !== null && event.invoiceId !== invoiceId) ||
      (userId !== null && event.userId !== userId) ||
      this.replayed?.has(event.changeId)
    ) {
      return;
    }
    if (this.sink) {
      this.sink(event);
      return;
    }
    this.queue.push(event);
    this.wake?.();
  }

  /**
   * Hands each change to `sink` as it is pushed, instead of queueing it for `next` (what is queued now goes first):
   * a fan-out to thousands then costs no promise per subscriber. `next` resolves only when the feed closes. Called
   * after `replay`, once.
   */
  attach(sink: (event: StatusChangeEvent) => void): void {
    this.sink = sink;
    const queued = this.queue;
    this.queue = [];
    queued.forEach(sink);
  }

  /** Puts the changes missed before this feed opened ahead of whatever arrived live meanwhile, without duplicates. */
  replay(missed: StatusChangeEvent[]): void {
    if (missed.length === 0) {
      return;
    }
    const replayed = new Set(missed.map((event) => event.changeId));
    this.replayed = replayed;
    this.queue = [...missed, ...this.queue.filter((event) => !replayed.has(event.changeId))];
    this.wake?.();
  }

  async next(): Promise<IteratorResult<StatusChangeEvent>> {
    while (!this.done && this.queue.length === 0) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    const event = this.queue.shift();
    return this.done || !event ? { value: undefined, done: true } : { value: event, done: false };
  }

  async return(): Promise<IteratorResult<StatusChangeEvent>> {
    this.close();
    return { value: undefined, done: true };
  }

  async throw(): Promise<IteratorResult<StatusChangeEvent>> {
    return this.return();
  }

  close(): void {
    if (!this.done) {
      this.done = true;
      this.queue = [];
      this.detach(this);
      this.wake?.();
    }
  }

  [Symbol.asyncIterator](): StatusFeed {
    return this;
  }
}

/**
 * The open feeds of one instance, indexed so that a change costs O(the feeds that may want it), not O(all feeds):
 * a feed on one invoice is found by the invoice id, a feed on one user's invoices by the user id, and only feeds that
 * watch everything (admins) are looked at for every change.
 */
export class FeedIndex {
  private readonly byInvoice = new Map<string, Set<StatusFeed>>();
  private readonly byUser = new Map<string, Set<StatusFeed>>();
  private readonly everything = new Set<StatusFeed>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(feed: StatusFeed): void {
    const set = this.setOf(feed, true) as Set<StatusFeed>;
    if (!set.has(feed)) {
      set.add(feed);
      this.count += 1;
    }
  }

  remove(feed: StatusFeed): void {
    const set = this.setOf(feed, false);
    if (set?.delete(feed)) {
      this.count -= 1;
      const { invoiceId, userId } = feed.filter;
      if (set.size === 0 && invoiceId !== null) {
        this.byInvoice.delete(invoiceId);
      } else if (set.size === 0 && userId !== null) {
        this.byUser.delete(userId);
      }
    }
  }

  /** Every open feed (to close them all). */
  all(): StatusFeed[] {
    return [...this.everything, ...[...this.byInvoice.values(), ...this.byUser.values()].flatMap((set) => [...set])];
  }

  hasCandidates(invoiceId: string, userId: string): boolean {
    return this.everything.size > 0 || this.byInvoice.has(invoiceId) || this.byUser.has(userId);
  }

  /** The feeds that may want a change of this invoice (each still applies its whole filter). */
  candidates(invoiceId: string, userId: string): StatusFeed[] {
    return [...(this.byInvoice.get(invoiceId) ?? []), ...(this.byUser.get(userId) ?? []), ...this.everything];
  }

  private setOf(feed: StatusFeed, create: boolean): Set<StatusFeed> | undefined {
    const { invoiceId, userId } = feed.filter;
    const [map, key] =
      invoiceId !== null ? [this.byInvoice, invoiceId] : userId !== null ? [this.byUser, userId] : [undefined, ''];
    if (!map) {
      return this.everything;
    }
    let set = map.get(key);
    if (!set && create) {
      set = new Set();
      map.set(key, set);
    }
    return set;
  }
}
