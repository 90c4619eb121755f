import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { systemClock } from '../../config/clock';
import { Invoice } from '../../entities';
import { InvoiceStatus, Role, StatusChangeSource } from '../../entities/enums';
import type { RemoteInvoice, StripeGateway } from '../../stripe';
import type { Caller } from '../customers/caller';
import { createInvoice } from '../invoicing/create-invoice.service';
import { applyStripeStatus } from '../stripe-events/apply-stripe-status';
import type { ReconcileStep } from './reconcile-plan';
import type { ReconcileChange, ReconcileDeps } from './reconcile-report';

/** Reconciliation resumes stuck DRAFTs through createInvoice, acting as a service. */
export const RECONCILIATION_CALLER: Caller = { userId: 'system:reconciliation', role: Role.SERVICE };

/** Applies the plan again under a row lock (the invoice may have moved since it was read); returns what it did. */
export async function applyPlan(
  em: EntityManager,
  invoiceId: string,
  remote: RemoteInvoice,
  period: string,
): Promise<ReconcileStep[]> {
  return em.fork().transactional(async (tem) => {
    const invoice = await tem.findOneOrFail(Invoice, invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      refresh: true,
    });
    const steps = await applyStripeStatus(tem, invoice, remote, {
      source: StatusChangeSource.RECONCILIATION,
      ref: `reconcile:${period}`,
      reason: `Stripe invoice ${remote.id} is ${remote.status}`,
    });
    await tem.flush();
    return steps;
  });
}

/** A DRAFT stuck half-way (Stripe failed, or a crash): createInvoice resumes it from where it stopped. */
export async function resumeDraft(
  deps: ReconcileDeps,
  gateway: StripeGateway,
  invoice: Invoice,
  dryRun: boolean,
): Promise<ReconcileChange> {
  const change: ReconcileChange = {
    invoiceId: invoice.id,
    number: invoice.number,
    stripeInvoiceId: invoice.stripeInvoiceId ?? null,
    action: 'resume',
    from: InvoiceStatus.DRAFT,
    to: InvoiceStatus.OPEN,
    applied: false,
  };
  if (dryRun) {
    return change;
  }
  const outcome = await createInvoice(
    { em: deps.em.fork(), gateway, config: deps.config, now: new Date((deps.clock ?? systemClock).now()) },
    RECONCILIATION_CALLER,
    { period: invoice.period, userId: invoice.customer.externalUserId, source: StatusChangeSource.RECONCILIATION },
  );
  if (outcome.kind === 'stripe_unavailable' || outcome.kind === 'total_mismatch') {
    throw new Error(outcome.message);
  }
  if (outcome.kind !== 'invoice') {
    throw new Error(`Could not resume the DRAFT: ${outcome.kind}`);
  }
  if (outcome.invoice.id !== invoice.id) {
    // Its Stripe invoice had been made payable with another total: voided, and the period invoiced again.
    return { ...change, action: 'reissue', from: invoice.number, to: outcome.invoice.number, applied: true };
  }
  return {
    ...change,
    stripeInvoiceId: outcome.invoice.stripeInvoiceId ?? null,
    to: outcome.invoice.status,
    applied: true,
  };
}
