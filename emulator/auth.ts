import type { IncomingMessage } from 'node:http';
import { authError, type StripeApiError } from './errors';

/** The request headers the API router reads (the first of each, as node keeps the first `Authorization`). */
export interface ApiHeaders {
  authorization?: string;
  stripeVersion?: string;
  idempotencyKey?: string;
}

/**
 * `ApiHeaders` in one pass over `rawHeaders`: node builds `req.headers` (an object of every header, names lowercased)
 * only when it is first read, and the SDK sends a dozen headers of which the router needs three.
 */
export function apiHeaders(req: IncomingMessage): ApiHeaders {
  const found: ApiHeaders = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // Cheap length check first: these three names are 13, 14 and 15 characters long.
    if (name.length < 13 || name.length > 15) {
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'authorization') {
      found.authorization ??= raw[i + 1];
    } else if (lower === 'stripe-version') {
      found.stripeVersion ??= raw[i + 1];
    } else if (lower === 'idempotency-key') {
      found.idempotencyKey ??= raw[i + 1];
    }
  }
  return found;
}

function mask(key: string): string {
  if (key.length <= 8) {
    return '****';
  }
  return `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`;
}

/**
 * The test-mode API key of a request (Bearer or Basic auth), or the 401 Stripe answers. A publishable key
 * (`pk_test_…`) passes here; the router lets it call only the routes Stripe.js uses.
 */
export function authenticate(header: string | undefined): string | StripeApiError {
  if (!header) {
    return authError(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  const known = checked.get(header);
  if (known !== undefined) {
    return known;
  }
  let key = '';
  if (/^bearer /i.test(header)) {
    key = header.slice(7).trim();
  } else if (/^basic /i.test(header)) {
    key = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8').split(':')[0];
  }
  if (!/^(sk|rk|pk)_test_[A-Za-z0-9_]+$/.test(key)) {
    return authError(`Invalid API Key provided: ${mask(key)}`);
  }
  if (checked.size >= 64) {
    checked.clear();
  }
  checked.set(header, key);
  return key;
}

/** Authorization headers already accepted and their keys: a client sends the same one on every request. */
const checked = new Map<string, string>();
