/**
 * The emulator's stored objects of one kind: a `Map` (id → object, insertion order) that also walks its objects newest
 * first without copying them, and keeps indexes by fields that never change once an object is stored (an invoice's
 * `customer`, an invoice payment's `invoice`). A list asks for a page of 10 among many thousands: walking from the
 * newest end and stopping at the page, or reading one customer's invoices from the index, costs the page, not the
 * store (`paginate`, `list.ts`).
 *
 * An index key is read when the object is stored (`set`): a field that changes in place afterwards must not be
 * indexed (an invoice item's `invoice`, an invoice's `status`).
 */
export type IndexKeys<V, I extends string> = Record<I, (value: V) => string | null | undefined>;

/** `I`: the names of its indexes. */
export class Collection<V, I extends string = never> extends Map<string, V> {
  /** Ids in insertion order, with holes: ids deleted since the last compaction (in `holes`). */
  private order: string[] = [];
  private holes = new Set<string>();
  private readonly indexes = new Map<string, { key: (value: V) => string | null | undefined; ids: IdIndex }>();

  constructor(indexKeys: IndexKeys<V, I> = {} as IndexKeys<V, I>) {
    super();
    for (const [name, key] of Object.entries<(value: V) => string | null | undefined>(indexKeys)) {
      this.indexes.set(name, { key, ids: new Map() });
    }
  }

  override set(id: string, value: V): this {
    const stored = super.has(id);
    const old = stored ? (super.get(id) as V) : undefined;
    if (!stored) {
      if (this.holes.has(id)) {
        // Deleted and stored again: it moves to the newest end, as in a Map; its old place must go first.
        this.compact();
      }
      this.order.push(id);
    }
    super.set(id, value);
    for (const { key, ids } of this.indexes.values()) {
      const k = key(value);
      if (stored) {
        const was = key(old as V);
        if (was === k) {
          // Replaced under the same key: it keeps its place, as in a Map.
          continue;
        }
        removeFrom(ids, was, id);
        if (k !== null && k !== undefined) {
          // Replaced under another key (not a field that changes in place, see above; rare): it joins that key's ids at
          // its place in the store, as iterating the store and filtering would find it.
          const members = new Set([...(ids.get(k) ?? []), id]);
          ids.set(k, new Set(this.order.filter((x) => members.has(x) && !this.holes.has(x))));
        }
        continue;
      }
      if (k !== null && k !== undefined) {
        let bucket = ids.get(k);
        if (!bucket) {
          bucket = new Set();
          ids.set(k, bucket);
        }
        bucket.add(id);
      }
    }
    return this;
  }

  override delete(id: string): boolean {
    if (!super.has(id)) {
      return false;
    }
    this.unindex(id, super.get(id) as V);
    super.delete(id);
    this.holes.add(id);
    if (this.holes.size > 64 && this.holes.size * 2 > this.order.length) {
      this.compact();
    }
    return true;
  }

  override clear(): void {
    super.clear();
    this.order = [];
    this.holes.clear();
    for (const index of this.indexes.values()) {
      index.ids.clear();
    }
  }

  /** The objects, newest first (insertion order reversed), read as the caller goes. */
  *newestFirst(): IterableIterator<V> {
    const order = this.order;
    for (let i = order.length - 1; i >= 0; i--) {
      const id = order[i];
      if (!this.holes.has(id)) {
        yield super.get(id) as V;
      }
    }
  }

  /** The objects whose index `name` reads `key`, newest first. */
  *newestFirstBy(name: I, key: string): IterableIterator<V> {
    const bucket = this.bucket(name, key);
    if (!bucket) {
      return;
    }
    const ids = [...bucket];
    for (let i = ids.length - 1; i >= 0; i--) {
      yield super.get(ids[i]) as V;
    }
  }

  /** The objects whose index `name` reads `key`, oldest first. */
  *by(name: I, key: string): IterableIterator<V> {
    const bucket = this.bucket(name, key);
    if (!bucket) {
      return;
    }
    for (const id of [...bucket]) {
      yield super.get(id) as V;
    }
  }

  private bucket(name: I, key: string): Set<string> | undefined {
    const index = this.indexes.get(name);
    if (!index) {
      throw new Error(`no index ${name}`);
    }
    return index.ids.get(key);
  }

  private unindex(id: string, value: V): void {
    for (const { key, ids } of this.indexes.values()) {
      removeFrom(ids, key(value), id);
    }
  }

  private compact(): void {
    this.order = this.order.filter((id) => !this.holes.has(id));
    this.holes.clear();
  }
}

type IdIndex = Map<string, Set<string>>;

function removeFrom(ids: IdIndex, key: string | null | undefined, id: string): void {
  const bucket = key === null || key === undefined ? undefined : ids.get(key);
  if (bucket) {
    bucket.delete(id);
    if (bucket.size === 0) {
      ids.delete(key as string);
    }
  }
}
