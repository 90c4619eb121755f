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

/**
 * How events reach their targets when no chaos switch below is on. `ideal`: each once, in the order they happened, at
 * once. `realistic`: as Stripe delivers them, which its docs tell receivers to expect: each after a delay of its own
 * (so events made within `maxDelayMs` of one another arrive in any order), some of them twice. Its choices come from
 * `seed`, so a run can be repeated.
 */
export type DeliveryProfileName = 'ideal' | 'realistic';

export interface DeliveryModes {
  profile: DeliveryProfileName;
  /** `realistic`: seed of the delays and duplicates (a run with the same seed makes the same choices). */
  seed: number;
  /** `realistic`: the longest wait before a delivery, in ms of the emulator's clock. */
  maxDelayMs: number;
  /** `realistic`: the share of deliveries sent twice (the copy after a delay of its own). */
  duplicateRate: number;
  /** Send every event twice. */
  duplicate: boolean;
  /** Hold events for `outOfOrderWindowMs`, then send each batch newest first. */
  outOfOrder: boolean;
  outOfOrderWindowMs: number;
  /** Wait this long before the first attempt of each event. */
  delayMs: number;
}

export const DEFAULT_MODES: DeliveryModes = {
  profile: 'ideal',
  seed: 1,
  maxDelayMs: 1_000,
  duplicateRate: 0.25,
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

/** A small seeded generator (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function eventMatches(enabled: readonly string[], type: string): boolean {
  return enabled.some((e) => e === '*' || e === type || (e.endsWith('.*') && type.startsWith(e.slice(0, -1))));
}
