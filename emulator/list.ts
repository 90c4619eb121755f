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
 * Stripe pagination over items already sorted newest first: `limit` (1..100, default 10),
 * `starting_after` / `ending_before` (ids of items in the list).
 */
export function paginate<T extends { id: string }>(
  items: T[],
  p: FormObject,
  url: string,
  resourceName: string,
): ListResult<T> {
  const limit = int(p, 'limit') ?? 10;
  if (limit < 1 || limit > 100) {
    throw paramInvalid('limit', `Invalid limit: must be between 1 and 100`, 'parameter_invalid_integer');
  }
  const after = str(p, 'starting_after');
  const before = str(p, 'ending_before');
  let slice: T[];
  let hasMore: boolean;
  if (after) {
    const i = items.findIndex((x) => x.id === after);
    if (i === -1) {
      throw resourceMissing(resourceName, after, 'starting_after');
    }
    slice = items.slice(i + 1, i + 1 + limit);
    hasMore = i + 1 + limit < items.length;
  } else if (before) {
    const i = items.findIndex((x) => x.id === before);
    if (i === -1) {
      throw resourceMissing(resourceName, before, 'ending_before');
    }
    const start = Math.max(0, i - limit);
    slice = items.slice(start, i);
    hasMore = start > 0;
  } else {
    slice = items.slice(0, limit);
    hasMore = limit < items.length;
  }
  return { object: 'list', data: slice, has_more: hasMore, url };
}

/** Map values, newest first (insertion order reversed). */
export function newestFirst<T>(map: Map<string, T>): T[] {
  return [...map.values()].reverse();
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
