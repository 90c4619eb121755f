import { chmodSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import type Stripe from 'stripe';
import { Chaos } from './chaos';
import { ObjectLocks, REALISTIC_WRITE_MS } from './locks';
import type { EmulatorConfig } from './config';
import type { EmulatorClock } from './time';
import { systemTime } from './time';
import { WebhookDispatcher } from './webhook-delivery';
import { fidelity, fidelityGuard, recordViolation, type FidelityGuard } from './fidelity/guard';
import { deserializeState, emptyState, serializeState, type State } from './state';
import { newId, snapshot } from './util';

export const API_VERSION = '2026-10-28.endive';

export type { EmulatorConfig } from './config';

/** Who caused an event: an API request (id + idempotency key) or nothing (automatic, hosted page). */
export interface EventRequest {
  id: string | null;
  idempotency_key: string | null;
}

export const AUTOMATIC: EventRequest = { id: null, idempotency_key: null };

/** The emulator's mutable world: state, clock, webhooks, chaos. One per running server. */
export class Emulator {
  state: State;
  readonly chaos = new Chaos();
  /** Per-object write locks (`locks.ts`): 429 `lock_timeout` on a write to an object another write holds. */
  readonly locks: ObjectLocks;
  readonly webhooks: WebhookDispatcher;
  readonly clock: EmulatorClock;
  /** Set when every response and event is checked against the SDK's schemas. */
  readonly guard: FidelityGuard | null;
  private saveTimer: NodeJS.Timeout | null = null;

  constructor(readonly config: EmulatorConfig) {
    this.clock = config.clock ?? systemTime;
    this.guard = config.fidelityGuard ? fidelityGuard() : null;
    this.state =
      config.stateFile && existsSync(config.stateFile)
        ? deserializeState(readFileSync(config.stateFile, 'utf8'))
        : emptyState();
    this.webhooks = new WebhookDispatcher(this, config.delivery);
    // The realistic profile's writes take a moment, during which they hold their objects' locks; ideal ones none.
    this.locks = new ObjectLocks({
      writeMs: config.locks?.writeMs ?? (config.delivery?.profile === 'realistic' ? REALISTIC_WRITE_MS : 0),
    });
  }

  /** Emulator time in Unix seconds (its clock + the test clock's offset). */
  now(): number {
    return Math.floor(this.clock.now() / 1000) + this.state.clockOffset;
  }

  setWebhookTarget(url: string | null, secret?: string): void {
    this.config.webhookUrl = url ?? undefined;
    if (secret) {
      this.config.webhookSecret = secret;
    }
  }

  /**
   * Every target has the event (or gave up on it). An invoice's `webhooks_delivered_at` is the time its
   * `invoice.created` reached every endpoint ("set while the invoice is being created" when there were none).
   */
  delivered(event: Stripe.Event): void {
    if (event.type !== 'invoice.created') {
      return;
    }
    const inv = this.state.invoices.get((event.data.object as { id: string }).id);
    if (inv && inv.webhooks_delivered_at === null) {
      inv.webhooks_delivered_at = this.now();
      this.changed();
    }
  }

  reset(): void {
    this.state = emptyState();
    this.webhooks.reset();
    this.chaos.reset();
    this.locks.reset();
    this.changed();
  }

  /** Record an event (snapshot of the object), then deliver it to every matching webhook target. */
  emit<T extends object>(
    type: Stripe.Event.Type,
    object: T,
    request: EventRequest,
    previous?: Partial<T>,
  ): Stripe.Event {
    return this.emitJson(type, JSON.stringify(object), request, previous);
  }

  /**
   * `emit` of an object the caller wrote as JSON: events about one state of an object (`invoice.updated` then
   * `invoice.paid`) share one text of it. The event keeps its object as that text until something reads it (the API,
   * a delivery, the state file; `eventData`): an event's object is a copy nothing changes, `JSON.stringify` makes it
   * in a fraction of a deep copy's time, and a string costs the garbage collector nothing to trace while events pile
   * up (a paid invoice makes a dozen).
   */
  emitJson<T extends object>(
    type: Stripe.Event.Type,
    json: string,
    request: EventRequest,
    previous?: Partial<T>,
  ): Stripe.Event {
    const targets = this.webhooks.targetsFor(type);
    const event = {
      id: newId('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: this.now(),
      data: eventData(json, previous && Object.keys(previous).length > 0 ? snapshot(previous) : undefined),
      livemode: false,
      pending_webhooks: targets.length,
      request,
      type,
    } as unknown as Stripe.Event;
    this.state.events.set(event.id, event);
    if (this.guard) {
      fidelity.events++;
      const faults = this.guard.checkObject(event);
      if (faults.length > 0) {
        recordViolation(`event ${type} ${event.id}`, faults);
      }
    }
    this.webhooks.dispatch(event, targets);
    this.changed();
    return event;
  }

  /**
   * Mark state dirty: saved to the state file shortly after (if configured). A real timer, not the clock: this only
   * batches disk writes, and a test's stopped clock must not keep the file from being written.
   */
  changed(): void {
    if (!this.config.stateFile || this.saveTimer) {
      return;
    }
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.saveNow();
    }, 100);
    this.saveTimer.unref();
  }

  saveNow(): void {
    if (!this.config.stateFile) {
      return;
    }
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
    }
    const tmp = `${this.config.stateFile}.tmp`;
    // Owner-only, whatever the umask: the state holds customers, invoices and payment methods. The mode applies only
    // to a new file (a .tmp left by a crash keeps its own), hence the chmod; the rename keeps the mode.
    writeFileSync(tmp, serializeState(this.state), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.config.stateFile);
  }

  async stop(): Promise<void> {
    await this.webhooks.stop();
    if (this.config.stateFile) {
      this.saveNow();
    }
  }
}

/**
 * An event's `data`: `object` is parsed from `json` when first read (then kept), as plain an own enumerable property
 * as any other to JSON, spreads, copies and `toEqual`; `previous_attributes` when given.
 */
function eventData(json: string, previous: object | undefined): Stripe.Event.Data {
  let text: string | null = json;
  let object: unknown;
  const data = {};
  Object.defineProperty(data, 'object', {
    enumerable: true,
    configurable: true,
    get() {
      if (text !== null) {
        object = JSON.parse(text);
        text = null;
      }
      return object;
    },
    set(value: unknown) {
      text = null;
      object = value;
    },
  });
  if (previous) {
    Object.assign(data, { previous_attributes: previous });
  }
  return data as Stripe.Event.Data;
}
