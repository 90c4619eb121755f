import type { Collection } from './collection';
import type { FormObject } from './form';
import { paramInvalid, resourceMissing } from './errors';
import { int, str } from './params';

export interface ListResult<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

/**
 * Stripe pagination over items already in the list's order (newest first for stored objects), those `keep` accepts:
 * `limit` (1..100, default 10), `starting_after` / `ending_before` (ids of items in the list). Reads `items` only as
 * far as the page needs (the page and one more, to know `has_more`), so a page of a large store costs the page.
 */
export function paginate<T extends { id: string }>(
  items: Iterable<T>,
  p: FormObject,
  url: string,
  resourceName: string,
  keep: (item: T) => boolean = () => true,
): ListResult<T> {
  const limit = int(p, 'limit') ?? 10;
  if (limit < 1 || limit > 100) {
    throw paramInvalid('limit', `Invalid limit: must be between 1 and 100`, 'parameter_invalid_integer');
  }
  const after = str(p, 'starting_after');
  const before = str(p, 'ending_before');
  if (!after && before) {
    // The `limit` items just before the cursor, and whether any precede them.
    const window: T[] = [];
    let preceding = 0;
    for (const item of items) {
      if (!keep(item)) {
        continue;
      }
      if (item.id === before) {
        return { object: 'list', data: window, has_more: preceding > window.length, url };
      }
      preceding++;
      window.push(item);
      if (window.length > limit) {
        window.shift();
      }
    }
    throw resourceMissing(resourceName, before, 'ending_before');
  }
  const page: T[] = [];
  let started = !after;
  for (const item of items) {
    if (!keep(item)) {
      continue;
    }
    if (!started) {
      started = item.id === after;
      continue;
    }
    if (page.length === limit) {
      return { object: 'list', data: page, has_more: true, url };
    }
    page.push(item);
  }
  if (!started) {
    throw resourceMissing(resourceName, after as string, 'starting_after');
  }
  return { object: 'list', data: page, has_more: false, url };
}

/** Stored objects, newest first (insertion order reversed), read as the caller goes. */
export function newestFirst<T>(collection: Collection<T>): Iterable<T> {
  return collection.newestFirst();
}

/** The parameters every list takes: its page (`limit`, `starting_after`, `ending_before`) and `expand`. */
export const PAGE_PARAMS = ['ending_before', 'expand', 'limit', 'starting_after'] as const;

type PageParam = (typeof PAGE_PARAMS)[number];

/**
 * A list's allowed parameters (`allowOnly`): the page's and its own filters. `P` is the SDK's params type of the list
 * (`Stripe.CreditNoteListParams`), which must declare every filter named: a filter Stripe does not take is a type error.
 */
export function listParams<P>(...filters: Array<Exclude<keyof P, PageParam> & string>): readonly string[] {
  return [...PAGE_PARAMS, ...filters];
}
