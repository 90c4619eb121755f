import { Webhook } from 'standardwebhooks';
import type { EndpointSecret } from '../../entities';
import { assertPublicDestination } from './endpoint-url';

/** What came back from one POST. */
export interface SendResult {
  statusCode: number | null;
  durationMs: number;
  /** Null when the receiver answered 2xx. */
  error: string | null;
}

/** The secrets that sign at `now`: the current one and any whose rotation overlap has not ended. */
export function signingSecrets(secrets: readonly EndpointSecret[], now: number): EndpointSecret[] {
  return secrets.filter((s) => s.expiresAt === null || new Date(s.expiresAt).getTime() > now);
}

/**
 * The Standard Webhooks headers of a message: `webhook-id` (the same on every retry, the receiver's idempotency key),
 * `webhook-timestamp` and `webhook-signature` with one `v1,…` signature per signing secret (several during a
 * rotation's overlap; a receiver accepts the message if any verifies). The timestamp is wall time, not the worker's
 * clock: receivers compare it with their own clock to refuse replays (five minutes in the library).
 */
export function signedHeaders(
  message: { id: string; body: string },
  secrets: readonly string[],
  signedAt: Date,
): Record<string, string> {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(message.id, signedAt, message.body));
  return {
    'content-type': 'application/json',
    'user-agent': 'AgentHub-Billing-Webhooks/1',
    'webhook-id': message.id,
    'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

const MAX_ERROR_LENGTH = 500;

function describe(error: unknown): string {
  // fetch rejects with "fetch failed" and the reason (ECONNREFUSED, a DNS failure…) in `cause`.
  const { message, cause } = (error ?? {}) as { message?: unknown; cause?: { message?: unknown; code?: unknown } };
  const text = [message, cause?.code ?? cause?.message].filter((part) => typeof part === 'string').join(': ');
  return (text || String(error)).slice(0, MAX_ERROR_LENGTH);
}

/**
 * POSTs one signed message. Any 2xx is delivered; anything else (another status, a refused connection, a timeout) is
 * an error to retry. Redirects are not followed (a 3xx is a failure): a receiver cannot send our signed body
 * elsewhere, and an allowed host cannot bounce us to a private one.
 */
export async function sendWebhook(input: {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivateHosts: boolean;
}): Promise<SendResult> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  try {
    await assertPublicDestination(input.url, input.allowPrivateHosts);
    const response = await fetch(input.url, {
      method: 'POST',
      headers: input.headers,
      body: input.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(input.timeoutMs),
    });
    // The body is not kept (it is the receiver's), only drained so the connection can be reused.
    await response.arrayBuffer().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    return {
      statusCode: response.status,
      durationMs: elapsed(),
      error: ok ? null : `receiver answered HTTP ${response.status}`,
    };
  } catch (error) {
    return { statusCode: null, durationMs: elapsed(), error: describe(error) };
  }
}
