import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type Stripe from 'stripe';
import type { EmulatorConfig } from './config';
import type { State } from './state';
import type { EmulatorClock } from './time';

/** What delivery reads of the emulator (its settings, state and clock); narrow, so it does not import the emulator. */
export interface DeliverySource {
  config: EmulatorConfig;
  state: State;
  clock: EmulatorClock;
  /** Every target has the event (or gave up on it): Stripe then stamps what waited for it. */
  delivered(event: Stripe.Event): void;
}
import {
  DEFAULT_MODES,
  eventMatches,
  seededRandom,
  signPayload,
  type DeliveryAttempt,
  type DeliveryModes,
  type WebhookTarget,
} from './webhook-signing';

export type { DeliveryAttempt, DeliveryModes, DeliveryProfileName, WebhookTarget } from './webhook-signing';
export { eventMatches, signPayload } from './webhook-signing';

/** One signal for every pending delay and retry: hundreds of listeners on it (delayed deliveries) are not a leak. */
function waitsController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** What the dispatchers of this process sent (a test run reports it): first attempts, by how they went out. */
export const deliveryCounts = {
  /** Events with at least one target. */
  events: 0,
  /** First attempts of a copy, duplicates included. */
  deliveries: 0,
  /** Second copies. */
  duplicates: 0,
  /** First attempts that left after an event made later had left for the same target. */
  outOfOrder: 0,
};

export class WebhookDispatcher {
  readonly log: DeliveryAttempt[] = [];
  /** The modes a reset returns to: the emulator's own profile (`startEmulator({ delivery })`). */
  private baseModes: DeliveryModes = { ...DEFAULT_MODES };
  private modesNow: DeliveryModes = { ...DEFAULT_MODES };
  /** The realistic profile's choices, from `modes.seed`. */
  private random = seededRandom(DEFAULT_MODES.seed);
  private seq = 0;
  /** Cancels the waits (delays, retries) on the emulator's clock. */
  private waits = waitsController();
  private inFlight = new Set<http.ClientRequest>();
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private chains = new Map<string, Promise<void>>();
  /** Rank of each event among those dispatched (event id → 1, 2…), and the latest rank queued per target. */
  private order = new Map<string, number>();
  private emitted = 0;
  private latestQueued = new Map<string, number>();
  /** Targets that have an event still pending elsewhere (event id → target keys). */
  private settledTargets = new Map<string, Set<string>>();
  private buffer: Array<{ event: Stripe.Event; target: WebhookTarget }> = [];
  private stopped = false;
  /** Bumped by reset(): work queued before it is dropped without touching counters or the log. */
  private generation = 0;

  constructor(
    private readonly emu: DeliverySource,
    modes: Partial<DeliveryModes> = {},
  ) {
    this.baseModes = { ...DEFAULT_MODES, ...modes };
    this.modes = this.baseModes;
  }

  get modes(): DeliveryModes {
    return this.modesNow;
  }

  /** Changing the modes restarts the realistic profile's choices from its seed. */
  set modes(modes: DeliveryModes) {
    this.modesNow = { ...modes };
    this.random = seededRandom(modes.seed);
  }

  /** The realistic profile applies while no chaos switch is on (the switches keep their exact meaning). */
  private get realistic(): boolean {
    const m = this.modes;
    return m.profile === 'realistic' && !m.duplicate && !m.outOfOrder && m.delayMs === 0;
  }

  targetsFor(type: string): WebhookTarget[] {
    const targets: WebhookTarget[] = [];
    const { webhookUrl, webhookSecret } = this.emu.config;
    if (webhookUrl) {
      targets.push({ endpointId: null, url: webhookUrl, secret: webhookSecret });
    }
    for (const ep of this.emu.state.webhookEndpoints.values()) {
      if (ep.status === 'enabled' && ep.secret && eventMatches(ep.enabled_events, type)) {
        targets.push({ endpointId: ep.id, url: ep.url, secret: ep.secret });
      }
    }
    return targets;
  }

  dispatch(event: Stripe.Event, targets: WebhookTarget[]): void {
    if (targets.length === 0) {
      this.emu.delivered(event);
      return;
    }
    deliveryCounts.events++;
    this.order.set(event.id, ++this.emitted);
    if (this.realistic) {
      return this.dispatchRealistic(event, targets);
    }
    const copies = this.modes.duplicate ? 2 : 1;
    for (const target of targets) {
      deliveryCounts.duplicates += copies - 1;
      for (let i = 0; i < copies; i++) {
        this.pending++;
        const gen = this.generation;
        if (this.modes.outOfOrder) {
          this.bufferForReorder(event, target);
        } else if (this.modes.delayMs > 0) {
          this.later(gen, this.modes.delayMs, () => this.enqueue(gen, event, target));
        } else {
          this.enqueue(gen, event, target);
        }
      }
    }
  }

  /**
   * Each copy waits a delay of its own, drawn from the seed, then joins its target's queue: events made close together
   * reach a target in any order, and a quarter of them (`duplicateRate`) twice.
   */
  private dispatchRealistic(event: Stripe.Event, targets: WebhookTarget[]): void {
    const gen = this.generation;
    const { maxDelayMs, duplicateRate } = this.modes;
    for (const target of targets) {
      const copies = this.random() < duplicateRate ? 2 : 1;
      deliveryCounts.duplicates += copies - 1;
      for (let i = 0; i < copies; i++) {
        this.pending++;
        const delay = Math.floor(this.random() * maxDelayMs);
        this.later(gen, delay, () => this.enqueue(gen, event, target));
      }
    }
  }

  private bufferForReorder(event: Stripe.Event, target: WebhookTarget): void {
    this.buffer.push({ event, target });
    if (this.buffer.length > 1) {
      return;
    }
    const gen = this.generation;
    this.later(gen, this.modes.outOfOrderWindowMs + this.modes.delayMs, () => {
      const batch = this.buffer.reverse();
      this.buffer = [];
      for (const item of batch) {
        this.enqueue(gen, item.event, item.target);
      }
    });
  }

  /** First attempts are sent one after another per target, in the order they are queued. */
  private enqueue(gen: number, event: Stripe.Event, target: WebhookTarget): void {
    const key = target.endpointId ?? target.url;
    deliveryCounts.deliveries++;
    const rank = this.order.get(event.id) ?? 0;
    const latest = this.latestQueued.get(key) ?? 0;
    if (rank < latest) {
      deliveryCounts.outOfOrder++;
    }
    this.latestQueued.set(key, Math.max(rank, latest));
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.attempt(gen, event, target, 1));
    this.chains.set(key, next);
  }

  /** Runs `fn` after `ms` of the emulator's clock, unless a reset or stop came first. */
  private later(gen: number, ms: number, fn: () => void): void {
    if (this.stopped || gen !== this.generation) {
      return;
    }
    const { signal } = this.waits;
    void this.emu.clock.sleep(ms, { signal, unref: true }).then(() => {
      if (!signal.aborted && !this.stopped && gen === this.generation) {
        fn();
      }
    });
  }

  /** Cancels every pending delay and retry. */
  private cancelWaits(): void {
    this.waits.abort();
    this.waits = waitsController();
  }

  private async attempt(gen: number, event: Stripe.Event, target: WebhookTarget, attempt: number): Promise<void> {
    if (this.stopped || gen !== this.generation) {
      return;
    }
    const payload = JSON.stringify(event, null, 2);
    // Signed with wall-clock time (not the test clock) so receivers' timestamp tolerance keeps working.
    const header = signPayload(payload, target.secret, Math.floor(Date.now() / 1000));
    const started = this.emu.clock.now();
    const startedWall = Date.now();
    const result = await this.post(target.url, payload, header);
    if (this.stopped || gen !== this.generation) {
      return;
    }
    const succeeded = result.status !== null && result.status >= 200 && result.status < 300;
    const delay = succeeded ? undefined : this.emu.config.retryScheduleMs[attempt - 1];
    const entry: DeliveryAttempt = {
      id: ++this.seq,
      eventId: event.id,
      eventType: event.type,
      endpointId: target.endpointId,
      url: target.url,
      attempt,
      at: new Date(started).toISOString(),
      status: result.status,
      error: result.error,
      durationMs: Date.now() - startedWall,
      succeeded,
      nextRetryAt: delay !== undefined ? new Date(this.emu.clock.now() + delay).toISOString() : null,
    };
    this.log.push(entry);
    if (this.log.length > 10_000) {
      this.log.splice(0, this.log.length - 10_000);
    }
    if (succeeded || delay === undefined) {
      this.settled(event, target);
      return this.done();
    }
    this.later(gen, delay, () => void this.attempt(gen, event, target, attempt + 1));
  }

  /** A target has the event, or gave up on it; a duplicate copy settling again changes nothing. */
  private settled(event: Stripe.Event, target: WebhookTarget): void {
    const stored = this.emu.state.events.get(event.id);
    const key = target.endpointId ?? target.url;
    const done = this.settledTargets.get(event.id) ?? new Set<string>();
    if (!stored || done.has(key) || stored.pending_webhooks <= 0) {
      return;
    }
    done.add(key);
    stored.pending_webhooks--;
    if (stored.pending_webhooks > 0) {
      this.settledTargets.set(event.id, done);
      return;
    }
    this.settledTargets.delete(event.id);
    this.emu.delivered(stored);
  }

  private post(
    url: string,
    payload: string,
    signature: string,
  ): Promise<{ status: number | null; error: string | null }> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (status: number | null, error: string | null) => {
        if (settled) {
          return;
        }
        settled = true;
        this.inFlight.delete(req);
        resolve({ status, error });
      };
      const client = url.startsWith('https:') ? https : http;
      const req = client.request(url, {
        method: 'POST',
        agent: false,
        timeout: this.emu.config.webhookTimeoutMs,
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': Buffer.byteLength(payload),
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'Stripe-Signature': signature,
          'Cache-Control': 'no-cache',
        },
      });
      this.inFlight.add(req);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? null, null));
        res.on('error', (e) => finish(res.statusCode ?? null, e.message));
      });
      req.on('timeout', () => {
        req.destroy(new Error('timeout'));
      });
      req.on('error', (e) => finish(null, e.message));
      req.end(payload);
    });
  }

  private done(): void {
    this.pending--;
    if (this.pending <= 0) {
      this.pending = 0;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) {
        w();
      }
    }
  }

  /** Resolves when no delivery is pending (all succeeded or ran out of retries). */
  whenIdle(timeoutMs = 10_000): Promise<boolean> {
    if (this.pending === 0) {
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  get pendingCount(): number {
    return this.pending;
  }

  reset(): void {
    this.cancelWaits();
    this.generation++;
    this.chains.clear();
    this.settledTargets.clear();
    this.order.clear();
    this.latestQueued.clear();
    this.buffer = [];
    this.log.length = 0;
    this.modes = this.baseModes;
    this.pending = 1;
    this.done();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelWaits();
    for (const req of this.inFlight) {
      req.destroy();
    }
    await Promise.allSettled([...this.chains.values()]);
  }
}
