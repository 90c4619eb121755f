import type { Emulator } from './context';
import { StripeApiError } from './errors';

/** Stripe keeps idempotency keys for 24 hours. */
const TTL_SECONDS = 24 * 60 * 60;

export type IdempotencyDecision =
  | { kind: 'proceed' }
  | { kind: 'replay'; status: number; body: string; requestId: string }
  | { kind: 'error'; error: StripeApiError };

/** Idempotent requests as Stripe documents them, scoped per API key. */
export class Idempotency {
  private inFlight = new Set<string>();

  constructor(private readonly emu: Emulator) {}

  check(storeKey: string, idemKey: string, method: string, path: string, params: string): IdempotencyDecision {
    if (this.inFlight.has(storeKey)) {
      return {
        kind: 'error',
        error: new StripeApiError(409, {
          type: 'idempotency_error',
          code: 'idempotency_key_in_use',
          message:
            'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through). Please retry this request later.',
        }),
      };
    }
    const record = this.emu.state.idempotency.get(storeKey);
    if (!record) {
      return { kind: 'proceed' };
    }
    if (record.createdAt + TTL_SECONDS <= this.emu.now()) {
      this.emu.state.idempotency.delete(storeKey);
      return { kind: 'proceed' };
    }
    if (record.method !== method || record.path !== path || record.params !== params) {
      return {
        kind: 'error',
        error: new StripeApiError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
        }),
      };
    }
    return { kind: 'replay', status: record.status, body: record.body, requestId: record.requestId };
  }

  begin(storeKey: string): void {
    this.inFlight.add(storeKey);
  }

  end(storeKey: string): void {
    this.inFlight.delete(storeKey);
  }

  store(
    storeKey: string,
    record: { method: string; path: string; params: string; status: number; body: string; requestId: string },
  ): void {
    this.emu.state.idempotency.set(storeKey, { ...record, createdAt: this.emu.now() });
    this.emu.changed();
  }
}
