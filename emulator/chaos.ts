/** Fault injection and the optional rate limit, applied to /v1 API requests. */
/**
 * `lost-response` carries the request out (and stores its idempotent answer), then drops the connection instead of
 * answering: what the caller sees when the network or its own process fails after Stripe acted.
 */
export type FaultKind = '500' | '429' | 'hang' | 'reset' | 'latency' | 'lost-response';

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
}

export class Chaos {
  rules: FaultRule[] = [];
  rateLimit: number | null = null;
  private seq = 0;
  /** Times (ms) of the requests accepted during the last second. */
  private recent: number[] = [];

  addRule(input: FaultRuleInput): FaultRule {
    const kinds: FaultKind[] = ['500', '429', 'hang', 'reset', 'latency', 'lost-response'];
    if (!kinds.includes(input.kind)) {
      throw new Error(`kind must be one of ${kinds.join(', ')}`);
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
    };
    this.rules.push(rule);
    return rule;
  }

  removeRule(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
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
          this.removeRule(rule.id);
        }
      }
      return rule;
    }
    return null;
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
      return false;
    }
    this.recent.push(nowMs);
    return true;
  }

  reset(): void {
    this.rules = [];
    this.recent = [];
  }
}

function pathMatches(pattern: string, path: string): boolean {
  if (pattern.startsWith('^')) {
    return new RegExp(pattern).test(path);
  }
  return path.startsWith(pattern);
}
