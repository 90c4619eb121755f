import type { IncomingMessage } from 'node:http';
import { authError, type StripeApiError } from './errors';

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
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
export function authenticate(req: IncomingMessage): string | StripeApiError {
  const header = headerValue(req, 'authorization');
  if (!header) {
    return authError(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
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
  return key;
}
