import { createHmac } from 'node:crypto';

/** Where an event goes: the `--webhook-url` target or a webhook endpoint object. */
export interface WebhookTarget {
  endpointId: string | null;
  url: string;
  secret: string;
}

export interface DeliveryAttempt {
  id: number;
  eventId: string;
  eventType: string;
  endpointId: string | null;
  url: string;
  attempt: number;
  at: string;
  status: number | null;
  error: string | null;
  durationMs: number;
  succeeded: boolean;
  /** When the next attempt is scheduled (ISO), null when none. */
  nextRetryAt: string | null;
}

export interface DeliveryModes {
  /** Send every event twice. */
  duplicate: boolean;
  /** Hold events for `outOfOrderWindowMs`, then send each batch newest first. */
  outOfOrder: boolean;
  outOfOrderWindowMs: number;
  /** Wait this long before the first attempt of each event. */
  delayMs: number;
}

export const DEFAULT_MODES: DeliveryModes = {
  duplicate: false,
  outOfOrder: false,
  outOfOrderWindowMs: 100,
  delayMs: 0,
};

/** Stripe's signature header: `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`. */
export function signPayload(payload: string, secret: string, timestamp: number): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export function eventMatches(enabled: readonly string[], type: string): boolean {
  return enabled.some((e) => e === '*' || e === type || (e.endsWith('.*') && type.startsWith(e.slice(0, -1))));
}
