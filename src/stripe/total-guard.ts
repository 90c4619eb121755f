import type { RemoteInvoice, RemoteInvoiceStatus } from './invoice-snapshot';

/** What our invoice says Stripe's must total: integer minor units and the ISO currency. */
export interface ExpectedTotal {
  totalMinor: bigint;
  currency: string;
}

/** A Stripe invoice whose total is not ours, found right before a write that would make it payable or charge it. */
export interface TotalMismatch {
  stripeInvoiceId: string;
  /** Stripe's status when it was read (`draft`: its items can still be repaired; `open`: it must be reissued). */
  stripeStatus: RemoteInvoiceStatus | null;
  stripeTotalMinor: bigint;
  stripeCurrency: string;
  ourTotalMinor: bigint;
  ourCurrency: string;
}

/** Refuses a finalize or an e-mail of a Stripe invoice whose total differs from ours (invariant 3 of docs/architecture.md). */
export class TotalMismatchError extends Error {
  constructor(readonly mismatch: TotalMismatch) {
    super(describeMismatch(mismatch));
    this.name = 'TotalMismatchError';
  }
}

export function describeMismatch(m: TotalMismatch): string {
  return (
    `Stripe invoice ${m.stripeInvoiceId} (${m.stripeStatus ?? 'unknown'}) totals ${m.stripeTotalMinor} ` +
    `${m.stripeCurrency.toUpperCase()} in minor units, ours ${m.ourTotalMinor} ${m.ourCurrency.toUpperCase()}`
  );
}

/**
 * Stripe statuses in which an invoice can still become payable or be charged: the guard applies to them. A paid or
 * void invoice charges nothing more, whatever its total (reconciliation reports a paid one that differs).
 */
const GUARDED: ReadonlySet<RemoteInvoiceStatus> = new Set<RemoteInvoiceStatus>(['draft', 'open', 'uncollectible']);

/**
 * The one check behind the invariant "a Stripe invoice is never finalized, sent or paid while its total differs
 * from ours": null when `remote` may go ahead, the difference otherwise.
 */
export function totalMismatch(remote: RemoteInvoice, expected: ExpectedTotal): TotalMismatch | null {
  if (!remote.status || !GUARDED.has(remote.status)) {
    return null;
  }
  if (remote.totalMinor === expected.totalMinor && remote.currency.toLowerCase() === expected.currency.toLowerCase()) {
    return null;
  }
  return {
    stripeInvoiceId: remote.id,
    stripeStatus: remote.status,
    stripeTotalMinor: remote.totalMinor,
    stripeCurrency: remote.currency,
    ourTotalMinor: expected.totalMinor,
    ourCurrency: expected.currency,
  };
}

/** `totalMismatch`, thrown. */
export function assertTotal(remote: RemoteInvoice, expected: ExpectedTotal): RemoteInvoice {
  const mismatch = totalMismatch(remote, expected);
  if (mismatch) {
    throw new TotalMismatchError(mismatch);
  }
  return remote;
}
