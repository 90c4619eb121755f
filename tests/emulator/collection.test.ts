import fc from 'fast-check';
import { Collection } from '../../emulator/collection';
import type { FormObject } from '../../emulator/form';
import { paginate } from '../../emulator/list';
import { snapshot } from '../../emulator/util';

/**
 * The local Stripe's stores (`emulator/collection.ts`) and its lists (`paginate`), which read a store newest first
 * only as far as a page needs, against what they replace: a plain Map, and pages cut from the whole filtered array.
 */

interface Item {
  id: string;
  owner: string;
  n: number;
}

type Op = { kind: 'set'; id: string; owner: string; n: number } | { kind: 'delete'; id: string };

// Enough ids for more than 64 deletions in a run (the store compacts its order then).
const ids = fc.integer({ min: 0, max: 79 }).map((i) => `x_${i}`);
const owners = fc.constantFrom('a', 'b', 'c');
const ops = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('set' as const), id: ids, owner: owners, n: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('delete' as const), id: ids }),
  ),
  { maxLength: 300 },
);

function apply(list: Op[]): { store: Collection<Item, 'owner'>; reference: Map<string, Item> } {
  const store = new Collection<Item, 'owner'>({ owner: (item) => item.owner });
  const reference = new Map<string, Item>();
  for (const op of list) {
    if (op.kind === 'set') {
      const item = { id: op.id, owner: op.owner, n: op.n };
      store.set(op.id, item);
      reference.set(op.id, item);
    } else {
      expect(store.delete(op.id)).toBe(reference.delete(op.id));
    }
  }
  return { store, reference };
}

/** The pagination the lists had: the whole filtered array, then the page cut from it. */
function eagerPage(items: Item[], limit: number, after?: string, before?: string) {
  if (after) {
    const i = items.findIndex((x) => x.id === after);
    return i === -1 ? 'missing' : { data: items.slice(i + 1, i + 1 + limit), has_more: i + 1 + limit < items.length };
  }
  if (before) {
    const i = items.findIndex((x) => x.id === before);
    const start = Math.max(0, i - limit);
    return i === -1 ? 'missing' : { data: items.slice(start, i), has_more: start > 0 };
  }
  return { data: items.slice(0, limit), has_more: limit < items.length };
}

describe('a store of the local Stripe', () => {
  it('iterates as a Map does, newest first in reverse, and by its index', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const { store, reference } = apply(list);
        const values = [...reference.values()];
        expect([...store.values()]).toEqual(values);
        expect(store.size).toBe(reference.size);
        expect([...store.newestFirst()]).toEqual([...values].reverse());
        for (const owner of ['a', 'b', 'c']) {
          const own = values.filter((item) => item.owner === owner);
          expect([...store.by('owner', owner)]).toEqual(own);
          expect([...store.newestFirstBy('owner', owner)]).toEqual([...own].reverse());
        }
      }),
    );
  });

  it('pages a filtered list exactly as slicing the whole filtered list did', () => {
    fc.assert(
      fc.property(
        ops,
        fc.integer({ min: 1, max: 5 }),
        fc.option(ids, { nil: undefined }),
        fc.constantFrom('after', 'before'),
        fc.integer({ min: 0, max: 9 }),
        (list, limit, cursor, side, below) => {
          const { store, reference } = apply(list);
          const keep = (item: Item): boolean => item.n < below;
          const newest = [...reference.values()].reverse().filter(keep);
          const after = side === 'after' ? cursor : undefined;
          const before = side === 'before' ? cursor : undefined;
          const params: FormObject = { limit: String(limit) };
          if (after) {
            params.starting_after = after;
          }
          if (before) {
            params.ending_before = before;
          }
          const expected = eagerPage(newest, limit, after, before);
          const run = () => paginate(store.newestFirst(), params, '/v1/x', 'x', keep);
          if (expected === 'missing') {
            expect(run).toThrow(/No such x/);
          } else {
            const page = run();
            expect({ data: page.data, has_more: page.has_more }).toEqual(expected);
          }
        },
      ),
    );
  });
});

describe('snapshot', () => {
  it('copies exactly as a JSON round trip does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const copy = snapshot(value);
        expect(copy).toEqual(JSON.parse(JSON.stringify(value)));
        if (value !== null && typeof value === 'object') {
          expect(copy).not.toBe(value);
        }
      }),
    );
  });

  it('writes toJSON values, drops undefined properties and nulls what JSON cannot hold', () => {
    const decimal = { toJSON: () => '12.50' };
    const value = {
      amount: decimal,
      at: new Date(0),
      gone: undefined,
      list: [undefined, NaN, Infinity, 1, () => 1],
      nested: { deep: [{ x: undefined, y: null }] },
    };
    expect(snapshot(value)).toEqual(JSON.parse(JSON.stringify(value)));
    expect(Object.keys(snapshot(value))).toEqual(['amount', 'at', 'list', 'nested']);
  });
});
