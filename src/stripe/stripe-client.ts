import Stripe from 'stripe';
import { stripeOperation, stripeRequestDuration, stripeRequests } from '../lib/metrics';
import { nameStripeSpan } from './stripe-tracing';

export interface StripeClientOptions {
  secretKey: string;
  /** Base URL of a Stripe-compatible API, e.g. the local emulator at `http://127.0.0.1:12111`. */
  apiBase?: string;
  /** SDK retries of 5xx, 409, timeouts and connection errors (and 429 when `Stripe-Should-Retry: true`). */
  maxNetworkRetries?: number;
  timeoutMs?: number;
}

export const DEFAULT_MAX_NETWORK_RETRIES = 2;
export const DEFAULT_TIMEOUT_MS = 20_000;

interface Endpoint {
  host: string;
  port: number;
  protocol: 'http' | 'https';
}

/**
 * The SDK takes host/port/protocol, not a URL, and always prefixes `/v1` itself; so an `apiBase` with
 * a trailing `/v1` (like the emulator's `apiBase`) is accepted and any other path is refused.
 */
export function parseApiBase(apiBase: string): Endpoint {
  let url: URL;
  try {
    url = new URL(apiBase);
  } catch {
    // Never echo the value: it could carry credentials in its user-info part.
    throw new Error('Stripe apiBase is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error('Stripe apiBase must be an http or https URL');
  }
  if (!['', '/', '/v1', '/v1/'].includes(url.pathname) || url.search || url.hash) {
    throw new Error('Stripe apiBase must be a bare origin (the SDK adds /v1 itself)');
  }
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  return {
    // URL keeps IPv6 literals bracketed; Node's http module wants them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : protocol === 'https' ? 443 : 80,
    protocol,
  };
}

/**
 * The one place a `Stripe` SDK instance is built. The SDK retries with the same idempotency key it was
 * given, which is what makes our deterministic keys safe to retry.
 */
export function createStripeClient(options: StripeClientOptions): Stripe {
  if (!options.secretKey) {
    throw new Error('A Stripe secret key is required');
  }
  const endpoint = options.apiBase ? parseApiBase(options.apiBase) : {};
  const stripe = new Stripe(options.secretKey, {
    ...endpoint,
    maxNetworkRetries: options.maxNetworkRetries ?? DEFAULT_MAX_NETWORK_RETRIES,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    appInfo: { name: 'agenthub-billing' },
  });
  // Traces: the call's span (StripeCaller) is named after the request it sends.
  stripe.on('request', (event: Stripe.RequestEvent) => nameStripeSpan(event.method, event.path));
  // Every HTTP exchange, retries included, by operation and status (429s and 5xx show here): `/metrics`.
  stripe.on('response', (event: Stripe.ResponseEvent) => {
    const operation = stripeOperation(event.method, event.path);
    stripeRequests.inc({ operation, status: String(event.status) });
    stripeRequestDuration.observe({ operation }, event.elapsed / 1000);
  });
  return stripe;
}
