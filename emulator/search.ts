import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { paramInvalid, paramMissing } from './errors';
import { render } from './expand';
import { invoiceView } from './invoice-model';
import { newestFirst } from './list';
import { allowOnly, int, str } from './params';

/**
 * A subset of Stripe's search query language: clauses `field:'value'`, `field~'substring'`,
 * `metadata['key']:'value'`, `field>123` (also <, >=, <=), joined by all-AND or all-OR.
 */
type Clause = { field: string; metaKey: string | null; op: string; value: string };

const CLAUSE = /^\s*(metadata\[['"]([^'"]+)['"]\]|[a-z_]+)\s*(:|~|>=|<=|>|<)\s*(?:'([^']*)'|"([^"]*)"|(-?\d+))\s*$/;

function parseQuery(query: string): { clauses: Clause[]; any: boolean } {
  const hasAnd = / AND /.test(query);
  const hasOr = / OR /.test(query);
  if (hasAnd && hasOr) {
    throw paramInvalid('query', 'Search queries cannot mix AND and OR.');
  }
  const parts = query.split(hasOr ? / OR / : / AND /);
  const clauses = parts.map((part) => {
    const m = CLAUSE.exec(part);
    if (!m) {
      throw paramInvalid('query', `Invalid search query: could not parse \`${part.trim()}\`.`);
    }
    return { field: m[2] ? 'metadata' : m[1], metaKey: m[2] ?? null, op: m[3], value: m[4] ?? m[5] ?? m[6] ?? '' };
  });
  return { clauses, any: hasOr };
}

function matches(obj: Record<string, unknown>, c: Clause, fields: readonly string[]): boolean {
  if (c.field !== 'metadata' && !fields.includes(c.field)) {
    throw paramInvalid('query', `Field \`${c.field}\` is not supported in search queries.`);
  }
  const raw = c.metaKey ? (obj.metadata as Record<string, string> | null)?.[c.metaKey] : obj[c.field];
  if (raw === null || raw === undefined) {
    return false;
  }
  if (c.op === ':') {
    return String(raw).toLowerCase() === c.value.toLowerCase();
  }
  if (c.op === '~') {
    return String(raw).toLowerCase().includes(c.value.toLowerCase());
  }
  const n = Number(raw);
  const v = Number(c.value);
  return c.op === '>' ? n > v : c.op === '<' ? n < v : c.op === '>=' ? n >= v : n <= v;
}

function search<T extends { id: string }>(ctx: ApiContext, items: Iterable<T>, fields: readonly string[], url: string) {
  allowOnly(ctx.params, ['expand', 'limit', 'page', 'query']);
  const query = str(ctx.params, 'query');
  if (!query) {
    throw paramMissing('query');
  }
  const { clauses, any } = parseQuery(query);
  const limit = int(ctx.params, 'limit') ?? 10;
  if (limit < 1 || limit > 100) {
    throw paramInvalid('limit', 'Invalid limit: must be between 1 and 100');
  }
  const page = str(ctx.params, 'page');
  const offset = page ? Number(Buffer.from(page, 'base64url').toString('utf8')) || 0 : 0;
  // Matches up to the page's end and one more (for `has_more`).
  const found: T[] = [];
  for (const item of items) {
    const results = clauses.map((c) => matches(item as unknown as Record<string, unknown>, c, fields));
    if (any ? results.some(Boolean) : results.every(Boolean)) {
      found.push(item);
      if (found.length > offset + limit) {
        break;
      }
    }
  }
  const data = found.slice(offset, offset + limit);
  const hasMore = offset + limit < found.length;
  return {
    object: 'search_result' as const,
    data,
    has_more: hasMore,
    next_page: hasMore ? Buffer.from(String(offset + limit)).toString('base64url') : null,
    url,
  };
}

export function registerSearch(r: ApiRouter): void {
  r.get('/v1/customers/search', (ctx) => {
    const result = search<Stripe.Customer>(
      ctx,
      newestFirst(ctx.emu.state.customers),
      ['email', 'name', 'phone', 'created'],
      '/v1/customers/search',
    );
    return { ...result, data: result.data.map((c) => render(ctx.emu, c, ctx.expand, 'data.')) };
  });
  r.get('/v1/invoices/search', (ctx) => {
    const result = search<Stripe.Invoice>(
      ctx,
      newestFirst(ctx.emu.state.invoices),
      ['customer', 'status', 'number', 'total', 'currency', 'created'],
      '/v1/invoices/search',
    );
    return { ...result, data: result.data.map((i) => render(ctx.emu, invoiceView(i), ctx.expand, 'data.')) };
  });
}
