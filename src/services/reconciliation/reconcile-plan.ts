import { InvoiceStatus } from '../../entities/enums';
import type { RemoteInvoice, RemoteInvoiceStatus } from '../../stripe';
import { pathTo } from '../invoicing/invoice-status';

/** One thing reconciliation would change on a local invoice. */
export type ReconcileStep =
  { kind: 'status'; from: InvoiceStatus; to: InvoiceStatus } | { kind: 'amount_paid'; from: bigint; to: bigint };

export interface InvoicePlan {
  steps: ReconcileStep[];
  /** Differences reconciliation does not repair (they need a person): reported only. */
  warnings: string[];
}

const S = InvoiceStatus;

/** Stripe's invoice status → ours. `draft` has no target: a local DRAFT is resumed instead. */
const TARGET: Partial<Record<RemoteInvoiceStatus, InvoiceStatus>> = {
  open: S.OPEN,
  paid: S.PAID,
  void: S.VOID,
  uncollectible: S.UNCOLLECTIBLE,
};

/**
 * What a local invoice misses from its Stripe invoice, forward-only: status moves along the transition table
 * (a DRAFT that Stripe already finalized is opened first), the amount paid only grows. `open` in Stripe leaves
 * our finer open states (PROCESSING, REQUIRES_ACTION, PAYMENT_FAILED) alone.
 */
export function planInvoice(
  local: { status: InvoiceStatus; amountPaidMinor: bigint },
  remote: Pick<RemoteInvoice, 'status' | 'amountPaidMinor'>,
): InvoicePlan {
  const steps: ReconcileStep[] = [];
  const warnings: string[] = [];
  const target = remote.status ? TARGET[remote.status] : undefined;
  let status = local.status;
  if (remote.status === 'draft' && local.status !== S.DRAFT && local.status !== S.VOID) {
    warnings.push(`Stripe invoice is still a draft but ours is ${local.status}`);
  }
  if (target && target !== status && !(target === S.OPEN && status !== S.DRAFT)) {
    const path: ReconcileStep[] = [];
    if (status === S.DRAFT && target !== S.VOID && target !== S.OPEN) {
      path.push({ kind: 'status', from: S.DRAFT, to: S.OPEN });
      status = S.OPEN;
    }
    const moves = pathTo(status, target);
    if (moves.length > 0) {
      for (const to of moves) {
        path.push({ kind: 'status', from: status, to });
        status = to;
      }
      steps.push(...path);
    } else {
      warnings.push(`Stripe invoice is ${remote.status} but ${local.status} cannot move to ${target}`);
    }
  }
  if (remote.amountPaidMinor > local.amountPaidMinor) {
    steps.push({ kind: 'amount_paid', from: local.amountPaidMinor, to: remote.amountPaidMinor });
  }
  return { steps, warnings };
}
