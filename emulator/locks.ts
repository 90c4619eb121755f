import type { FormObject } from './form';
import { systemTime } from './time';

/**
 * Stripe's per-object write lock. A write holds the lock of every object it changes while Stripe works on it; another
 * write to one of them meanwhile is answered 429 `lock_timeout` with `Stripe-Should-Retry: true`, which the SDK
 * retries (https://docs.stripe.com/rate-limits#object-lock-timeouts).
 *
 * The emulator acts on a request in one synchronous step, so two writes overlap only where the model says so:
 * - the realistic profile gives each write a processing time (`writeMs`) during which it holds its locks, before it
 *   answers. Measured on the system's timers, not the emulator's clock: it is time on the wire, like the network's,
 *   and a test's stopped clock must not stop every write;
 * - a test holds an object's lock through the control API (`POST /_emulator/locks`), fires a write, sees the 429,
 *   and releases it, or lets the lock give way by itself after refusing `refusals` writes (deterministic: the SDK's
 *   retry then goes through, whatever the machine's speed).
 * A `hold` fault keeps a request before Stripe acts on it (on the way, as far as Stripe knows): it holds no lock.
 */

export interface LockModes {
  /** How long each write holds its objects' locks before it answers, in ms of the system's timers (0: at once). */
  writeMs: number;
}

/** The realistic profile's processing time of a write. */
export const REALISTIC_WRITE_MS = 5;

/** A lock the control API holds. */
export interface HeldLock {
  object: string;
  /** Writes refused while it was held. */
  refused: number;
  /** Gives way by itself after refusing this many more writes; null: until released. */
  refusalsLeft: number | null;
}

export interface HoldLockInput {
  object: string;
  refusals?: number;
}

/** `/v1/<resource>/<id>[/…]`: the object a write names in its path (`in_…`, `cus_…`, `pi_…`), if any. */
const PATH_OBJECT = /^\/v1\/[a-z_]+\/([a-z]+_[A-Za-z0-9]+)(?:\/|$)/;

/** Parameters of a create that name the object it changes (an item on an invoice, a refund of a charge…). */
const PARENT_PARAMS = ['invoice', 'charge', 'payment_intent'] as const;

/** The objects a write changes, whose locks it takes. */
export function objectsOf(pathname: string, params: FormObject): string[] {
  const ids = new Set<string>();
  const m = PATH_OBJECT.exec(pathname);
  if (m) {
    ids.add(m[1]);
  }
  for (const name of PARENT_PARAMS) {
    const v = params[name];
    if (typeof v === 'string' && /^[a-z]+_[A-Za-z0-9]+$/.test(v)) {
      ids.add(v);
    }
  }
  return [...ids];
}

export class ObjectLocks {
  private baseModes: LockModes;
  modes: LockModes;
  /** Locks held by writes in progress (object id → how many: a write counts once). */
  private byWrites = new Map<string, number>();
  /** Locks the control API holds. */
  private byControl = new Map<string, HeldLock>();
  /** Writes refused since the last reset. */
  refusedTotal = 0;

  constructor(modes: LockModes) {
    this.baseModes = { ...modes };
    this.modes = { ...modes };
  }

  /**
   * Takes the locks of `objects` for a write: null when it may go on (call the release it returns when it has
   * answered), or the object whose lock another holds (the write is refused and takes nothing).
   */
  acquire(objects: string[]): { release: () => void } | { busy: string } {
    const busy = objects.find((id) => this.byWrites.has(id) || this.byControl.has(id));
    if (busy !== undefined) {
      this.refusedTotal += 1;
      const held = this.byControl.get(busy);
      if (held) {
        held.refused += 1;
        if (held.refusalsLeft !== null && --held.refusalsLeft <= 0) {
          this.byControl.delete(busy);
        }
      }
      return { busy };
    }
    for (const id of objects) {
      this.byWrites.set(id, (this.byWrites.get(id) ?? 0) + 1);
    }
    let released = false;
    return {
      release: () => {
        if (released) {
          return;
        }
        released = true;
        for (const id of objects) {
          const n = (this.byWrites.get(id) ?? 1) - 1;
          if (n <= 0) {
            this.byWrites.delete(id);
          } else {
            this.byWrites.set(id, n);
          }
        }
      },
    };
  }

  /** The modelled processing time of a write (realistic profile), on the system's timers. */
  async processing(): Promise<void> {
    if (this.modes.writeMs > 0) {
      await systemTime.sleep(this.modes.writeMs, { unref: true });
    }
  }

  hold(input: HoldLockInput): HeldLock {
    if (typeof input.object !== 'string' || !/^[a-z]+_[A-Za-z0-9]+$/.test(input.object)) {
      throw new Error('object must be a Stripe object id (e.g. in_…)');
    }
    if (input.refusals !== undefined && !(Number.isInteger(input.refusals) && input.refusals > 0)) {
      throw new Error('refusals must be a positive integer');
    }
    const lock: HeldLock = { object: input.object, refused: 0, refusalsLeft: input.refusals ?? null };
    this.byControl.set(input.object, lock);
    return lock;
  }

  /** Releases a lock the control API holds; false when it held none (or it gave way already). */
  release(object: string): boolean {
    return this.byControl.delete(object);
  }

  held(): HeldLock[] {
    return [...this.byControl.values()];
  }

  setModes(modes: Partial<LockModes>): LockModes {
    if (modes.writeMs !== undefined && !(typeof modes.writeMs === 'number' && modes.writeMs >= 0)) {
      throw new Error('writeMs must be a non-negative number');
    }
    this.modes = { ...this.modes, ...modes };
    return this.modes;
  }

  /** Back to the emulator's own profile; the control API's locks are released (writes in progress keep theirs). */
  reset(): void {
    this.modes = { ...this.baseModes };
    this.byControl.clear();
    this.refusedTotal = 0;
  }
}
