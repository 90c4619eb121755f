/** Fault injection and the optional rate limit, applied to /v1 API requests. */
/**
 * `lost-response` carries the request out (and stores its idempotent answer), then drops the connection instead of
 * answering: what the caller sees when the network or its own process fails after Stripe acted.
 * `hold` keeps a matching request waiting, before Stripe acts on it, until the control API releases it: a test that
 * needs "while Stripe is working on this request" waits until the request is held (an event), acts, then releases it,
 * instead of racing a `latency` delay against its own speed.
 */
export type FaultKind = '500' | '429' | 'hang' | 'reset' | 'latency' | 'lost-response' | 'hold';

const FAULT_KINDS: FaultKind[] = ['500', '429', 'hang', 'reset', 'latency', 'lost-response', 'hold'];

export interface FaultRuleInput {
  kind: FaultKind;
  /** Applies to paths starting with this prefix (e.g. `/v1/invoices`); a pattern starting with `^` is a regex. */
  path?: string;
  method?: string;
  /** Probability (0..1) that a matching request fails. Default 1. */
  rate?: number;
  /** Fail only the next N matching requests, then the rule is removed. */
  count?: number;
  /** Let the first N matching requests through untouched before the rule applies (e.g. fail only the 2nd item). */
  skip?: number;
  /** `latency`: delay before handling; `hang`: hold the request this long then drop it (default: until stop). */
  delayMs?: number;
  /** Value of `Stripe-Should-Retry` on 500/429 responses (429 default true, 500 default unset). */
  shouldRetry?: boolean;
}

/** What a caller waiting for held requests learns. */
export interface HeldState {
  id: string;
  /** Requests held now, waiting for release. */
  held: number;
  /** Matching requests so far (held or released). */
  hits: number;
}

export interface FaultRule extends Required<Pick<FaultRuleInput, 'kind' | 'rate'>> {
  id: string;
  path: string;
  method: string | null;
  remaining: number | null;
  /** Matching requests still to let through before the rule applies. */
  skip: number;
  delayMs: number | null;
  shouldRetry: boolean | null;
  hits: number;
  /** `hold`: requests held now. */
  held: number;
}

export class Chaos {
  rules: FaultRule[] = [];
  rateLimit: number | null = null;
  /** Requests the rate limit let through and refused (429) since the last reset: what a benchmark reads. */
  rateCounts = { allowed: 0, refused: 0 };
  private seq = 0;
  /** Times (ms, the emulator's clock) of the requests accepted during the last second. */
  private recent: number[] = [];
  /** Release functions of the requests each `hold` rule holds; the rule stays here until they are released. */
  private holds = new Map<string, { rule: FaultRule; release: Array<() => void> }>();
  private holdWatchers: Array<() => void> = [];

  addRule(input: FaultRuleInput): FaultRule {
    if (!FAULT_KINDS.includes(input.kind)) {
      throw new Error(`kind must be one of ${FAULT_KINDS.join(', ')}`);
    }
    if (input.path?.startsWith('^')) {
      new RegExp(input.path); // throws on an invalid pattern
    }
    if (input.rate !== undefined && !(input.rate >= 0 && input.rate <= 1)) {
      throw new Error('rate must be between 0 and 1');
    }
    const rule: FaultRule = {
      id: `fault_${++this.seq}`,
      kind: input.kind,
      path: input.path ?? '/v1/',
      method: input.method ? input.method.toUpperCase() : null,
      rate: input.rate ?? 1,
      remaining: input.count ?? null,
      skip: input.skip ?? 0,
      delayMs: input.delayMs ?? null,
      shouldRetry: input.shouldRetry ?? null,
      hits: 0,
      held: 0,
    };
    this.rules.push(rule);
    return rule;
  }

  /** Removes a rule; requests it holds go on. */
  removeRule(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    const released = this.release(id) > 0;
    return this.rules.length !== before || released;
  }

  /** Removes every rule; held requests go on. */
  clearRules(): void {
    this.releaseAll();
    this.rules = [];
  }

  /** The fault to apply to this request, if any (consumes one of a counted rule's uses). */
  match(method: string, path: string, kinds: readonly FaultKind[]): FaultRule | null {
    for (const rule of this.rules) {
      if (!kinds.includes(rule.kind)) {
        continue;
      }
      if (rule.method && rule.method !== method) {
        continue;
      }
      if (!pathMatches(rule.path, path)) {
        continue;
      }
      if (rule.skip > 0) {
        rule.skip--;
        continue;
      }
      if (rule.rate < 1 && Math.random() >= rule.rate) {
        continue;
      }
      rule.hits++;
      if (rule.remaining !== null) {
        rule.remaining--;
        if (rule.remaining <= 0) {
          // Used up: it matches nothing more, but what it holds stays held until released.
          this.rules = this.rules.filter((r) => r !== rule);
        }
      }
      return rule;
    }
    return null;
  }

  /** Holds a request that matched a `hold` rule until `release` (or a reset) lets it go on. */
  hold(rule: FaultRule): Promise<void> {
    return new Promise((resolve) => {
      const entry = this.holds.get(rule.id) ?? { rule, release: [] };
      entry.release.push(resolve);
      this.holds.set(rule.id, entry);
      rule.held = entry.release.length;
      for (const watch of this.holdWatchers.splice(0)) {
        watch();
      }
    });
  }

  /** Lets every request the rule holds go on; returns how many. Unknown rule: 0. */
  release(id: string): number {
    const entry = this.holds.get(id);
    if (!entry) {
      return 0;
    }
    this.holds.delete(id);
    entry.rule.held = 0;
    for (const go of entry.release) {
      go();
    }
    return entry.release.length;
  }

  /** Releases every held request (faults cleared, reset, stop): nothing stays waiting on a rule nobody can see. */
  releaseAll(): void {
    for (const id of [...this.holds.keys()]) {
      this.release(id);
    }
  }

  /** The rule's held and hit counts, also for a counted rule already used up (it stays while it holds requests). */
  heldState(id: string): HeldState | null {
    const rule = this.holds.get(id)?.rule ?? this.rules.find((r) => r.id === id);
    return rule ? { id: rule.id, held: rule.held, hits: rule.hits } : null;
  }

  /** Resolves with the state once the rule holds at least `count` requests; null after `timeoutMs` (a guard). */
  whenHeld(id: string, count: number, timeoutMs: number): Promise<HeldState | null> {
    return new Promise((resolve) => {
      let waiting = true;
      const timer = setTimeout(() => {
        waiting = false;
        resolve(null);
      }, timeoutMs);
      const check = (): void => {
        if (!waiting) {
          return;
        }
        const state = this.heldState(id);
        if (state && state.held >= count) {
          clearTimeout(timer);
          resolve(state);
        } else {
          this.holdWatchers.push(check);
        }
      };
      check();
    });
  }

  /** Sliding one-second window: at most `rateLimit` requests in any second. True when the request is allowed. */
  takeRateToken(nowMs: number): boolean {
    if (this.rateLimit === null || this.rateLimit <= 0) {
      return true;
    }
    let drop = 0;
    while (drop < this.recent.length && this.recent[drop] <= nowMs - 1000) {
      drop++;
    }
    if (drop > 0) {
      this.recent.splice(0, drop);
    }
    if (this.recent.length >= this.rateLimit) {
      this.rateCounts.refused += 1;
      return false;
    }
    this.recent.push(nowMs);
    this.rateCounts.allowed += 1;
    return true;
  }

  reset(): void {
    this.releaseAll();
    this.rules = [];
    this.recent = [];
    this.rateCounts = { allowed: 0, refused: 0 };
  }
}

function pathMatches(pattern: string, path: string): boolean {
  if (pattern.startsWith('^')) {
    return new RegExp(pattern).test(path);
  }
  return path.startsWith(pattern);
}
