import type { FaultRule, FaultRuleInput, HeldState } from './chaos';
import type { HeldLock, LockModes } from './locks';
import type { DeliveryAttempt, DeliveryModes } from './webhook-delivery';

/** Typed client of the emulator's control API (`/_emulator`), for tests and scripts. */
export class EmulatorControl {
  private readonly base: string;

  /** `baseUrl` is the emulator URL (http://127.0.0.1:12111) or its control URL (…/_emulator). */
  constructor(baseUrl: string) {
    const trimmed = baseUrl.replace(/\/+$/, '');
    this.base = trimmed.endsWith('/_emulator') ? trimmed : `${trimmed}/_emulator`;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as T & { error?: { message: string } };
    if (!res.ok) {
      throw new Error(`emulator control ${method} ${path}: ${res.status} ${json.error?.message ?? ''}`);
    }
    return json;
  }

  health(): Promise<{ ok: boolean; now: number; clockOffset: number }> {
    return this.call('GET', '/health');
  }

  /** Forget every object, event, idempotency key, fault and delivery. */
  reset(): Promise<{ ok: boolean }> {
    return this.call('POST', '/reset');
  }

  async deliveries(eventId?: string): Promise<DeliveryAttempt[]> {
    const q = eventId ? `?event=${encodeURIComponent(eventId)}` : '';
    return (await this.call<{ data: DeliveryAttempt[] }>('GET', `/webhooks/deliveries${q}`)).data;
  }

  clearDeliveries(): Promise<unknown> {
    return this.call('DELETE', '/webhooks/deliveries');
  }

  /** Duplicate, reorder (newest first within a window) or delay webhook deliveries. */
  setWebhookMode(modes: Partial<DeliveryModes>): Promise<DeliveryModes> {
    return this.call('POST', '/webhooks/mode', modes);
  }

  /** Where events go besides webhook endpoints (like `stripe listen --forward-to`); null stops forwarding. */
  setWebhookTarget(url: string | null, secret?: string): Promise<{ url: string | null }> {
    return this.call('POST', '/webhooks/target', { url, secret });
  }

  setRetrySchedule(scheduleMs: number[]): Promise<{ scheduleMs: number[] }> {
    return this.call('POST', '/webhooks/retry-schedule', { scheduleMs });
  }

  /** Wait until every webhook delivery has succeeded or exhausted its retries. */
  waitForWebhooks(timeoutMs = 10_000): Promise<{ idle: boolean; pending: number }> {
    return this.call('POST', '/webhooks/wait-idle', { timeoutMs });
  }

  injectFault(rule: FaultRuleInput): Promise<FaultRule> {
    return this.call('POST', '/faults', rule);
  }

  async faults(): Promise<FaultRule[]> {
    return (await this.call<{ data: FaultRule[] }>('GET', '/faults')).data;
  }

  /** Removes every fault; held requests go on. */
  clearFaults(): Promise<unknown> {
    return this.call('DELETE', '/faults');
  }

  /** Removes a fault; requests it holds go on. */
  removeFault(id: string): Promise<{ deleted: boolean }> {
    return this.call('DELETE', `/faults/${encodeURIComponent(id)}`);
  }

  /**
   * Holds matching /v1 requests before Stripe acts on them, until `release`: a `hold` fault. With `count`, only the
   * next N matches (the rule then stays listed as used up while it still holds requests).
   */
  holdRequests(rule: Omit<FaultRuleInput, 'kind' | 'delayMs' | 'shouldRetry'>): Promise<FaultRule> {
    return this.injectFault({ ...rule, kind: 'hold' });
  }

  /** Resolves once the `hold` fault holds at least `count` requests; fails after `timeoutMs` (a guard). */
  waitForHeld(id: string, count = 1, timeoutMs = 20_000): Promise<HeldState> {
    return this.call('POST', `/faults/${encodeURIComponent(id)}/wait-held`, { count, timeoutMs });
  }

  /** Lets every request the `hold` fault holds go on (Stripe then acts on them and answers). */
  release(id: string): Promise<{ released: number }> {
    return this.call('POST', `/faults/${encodeURIComponent(id)}/release`);
  }

  /**
   * Holds an object's write lock (`in_…`, `cus_…`…) as a concurrent write would: writes to it are answered 429
   * `lock_timeout` until `releaseLock`, or, with `refusals`, until that many were refused.
   */
  holdLock(object: string, options: { refusals?: number } = {}): Promise<HeldLock> {
    return this.call('POST', '/locks', { object, ...options });
  }

  /** Releases a lock `holdLock` holds; `released: false` when it held none or it gave way already. */
  releaseLock(object: string): Promise<{ released: boolean }> {
    return this.call('DELETE', `/locks/${encodeURIComponent(object)}`);
  }

  /** The locks the control API holds, the lock modes, and how many writes locks refused since the last reset. */
  locks(): Promise<{ data: HeldLock[]; modes: LockModes; refused: number }> {
    return this.call('GET', '/locks');
  }

  /** How long each write holds its objects' locks before it answers (`writeMs`, system time). */
  setLockModes(modes: Partial<LockModes>): Promise<LockModes> {
    return this.call('POST', '/locks/mode', modes);
  }

  /** Requests per second over /v1 before 429; null turns the limit off. */
  setRateLimit(limit: number | null): Promise<{ limit: number | null }> {
    return this.call('POST', '/rate-limit', { limit });
  }

  /** The limit and how many requests it let through and refused (429) since it was set or the emulator reset. */
  rateLimit(): Promise<{ limit: number | null; allowed: number; refused: number }> {
    return this.call('GET', '/rate-limit');
  }

  clock(): Promise<{ now: number; offset: number }> {
    return this.call('GET', '/clock');
  }

  advanceClock(seconds: number): Promise<{ now: number; offset: number }> {
    return this.call('POST', '/clock/advance', { seconds });
  }

  /** Answer the pending 3-D Secure challenge of an invoice, as the customer would. */
  completeThreeDSecure(invoiceId: string, result: 'approve' | 'fail'): Promise<{ result: string; status: string }> {
    return this.call('POST', `/invoices/${encodeURIComponent(invoiceId)}/three-d-secure`, { result });
  }
}
