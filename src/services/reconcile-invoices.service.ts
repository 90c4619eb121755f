import type { EntityManager } from '@mikro-orm/postgresql';
import type Stripe from 'stripe';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import { Invoice } from '../entities';
import { InvoiceStatus } from '../entities/enums';
import type { StripeGateway } from '../stripe';
import { failedWith, redactSecrets } from '../stripe';
import { parsePeriod } from './billing-period';
import { applyPlan, resumeDraft } from './reconcile-apply';
import { planInvoice } from './reconcile-plan';
import { findOrphans } from './reconcile-orphans';
import type { ReconcileOrphan } from './reconcile-orphans';
import { retryRateLimited } from './stripe-rate-limit-retry';

export interface ReconcileDeps {
  em: EntityManager;
  gateway: StripeGateway;
  config: Pick<AppConfig, 'billing'>;
  log?: Logger;
  now?: () => Date;
}

export interface ReconcileChange {
  invoiceId: string;
  number: string;
  stripeInvoiceId: string | null;
  /** `status` (a missed transition), `amount_paid`, or `resume` (a DRAFT stuck half-way, finished by createInvoice). */
  action: 'status' | 'amount_paid' | 'resume';
  from: string;
  to: string;
  /** False in a dry run. */
  applied: boolean;
}

export interface ReconcileIssue {
  invoiceId: string;
  number: string;
  message: string;
}

export interface ReconcileReport {
  period: string;
  dryRun: boolean;
  /** Local invoices compared. */
  checked: number;
  changes: ReconcileChange[];
  /** Stripe invoices with our metadata for the period and no local row. */
  orphans: ReconcileOrphan[];
  /** Differences that need a person (e.g. paid in Stripe, VOID here; totals differ). */
  warnings: ReconcileIssue[];
  /** Invoices that could not be checked or repaired (Stripe unreachable…); run again. */
  errors: ReconcileIssue[];
}

export type { ReconcileOrphan };
export { RECONCILIATION_CALLER } from './reconcile-apply';

/**
 * Compares every local invoice of a period with its Stripe invoice and applies what we missed, forward-only, through
 * `transitionInvoice` (source RECONCILIATION): a payment, a void, an uncollectible mark, the amount paid. A DRAFT stuck
 * half-way is resumed by `createInvoice` (idempotent). A VOID invoice whose Stripe draft was deleted (cancelling a
 * DRAFT does that) is consistent. Stripe invoices of the period carrying our metadata with no local row are reported.
 * A dry run changes nothing and reports the same changes.
 */
export async function reconcile(
  deps: ReconcileDeps,
  input: { period: string; dryRun?: boolean; concurrency?: number },
): Promise<ReconcileReport> {
  const period = parsePeriod(input.period);
  const dryRun = input.dryRun ?? false;
  const gateway = retryRateLimited(deps.gateway);
  const report: ReconcileReport = {
    period: period.key,
    dryRun,
    checked: 0,
    changes: [],
    orphans: [],
    warnings: [],
    errors: [],
  };
  const invoices = await deps.em
    .fork()
    .find(Invoice, { period: period.key }, { populate: ['customer'], orderBy: { number: 'asc' } });
  const check = async (invoice: Invoice): Promise<void> => {
    report.checked += 1;
    const issue = (message: string): ReconcileIssue => ({ invoiceId: invoice.id, number: invoice.number, message });
    try {
      let remote: Stripe.Invoice | null = null;
      if (invoice.stripeInvoiceId) {
        try {
          remote = await gateway.retrieveInvoice(invoice.stripeInvoiceId);
        } catch (error) {
          // Cancelling a DRAFT deletes its Stripe draft: a VOID invoice that was never finalized and has no Stripe
          // invoice any more is consistent. (A finalized Stripe invoice cannot be deleted, so that stays an error.)
          if (invoice.status === InvoiceStatus.VOID && !invoice.finalizedAt && failedWith(error, 'not_found')) {
            return;
          }
          throw error;
        }
      }
      if (invoice.status === InvoiceStatus.DRAFT && (!remote || remote.status === 'draft')) {
        report.changes.push(await resumeDraft(deps, gateway, invoice, dryRun));
        return;
      }
      if (!remote) {
        return;
      }
      const plan = planInvoice(invoice, remote);
      report.warnings.push(...plan.warnings.map(issue));
      const steps =
        dryRun || plan.steps.length === 0 ? plan.steps : await applyPlan(deps.em, invoice.id, remote, period.key);
      report.changes.push(
        ...steps.map((step) => ({
          invoiceId: invoice.id,
          number: invoice.number,
          stripeInvoiceId: invoice.stripeInvoiceId ?? null,
          action: step.kind,
          from: String(step.from),
          to: String(step.to),
          applied: !dryRun,
        })),
      );
    } catch (error) {
      report.errors.push(issue(redactSecrets(error instanceof Error ? error.message : String(error))));
    }
  };
  // A few invoices at a time: Stripe pacing is the gateway's rate limiter.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < invoices.length) {
      await check(invoices[(next += 1) - 1]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, input.concurrency ?? 4) }, worker));
  const byNumber = (a: { number: string }, b: { number: string }): number => a.number.localeCompare(b.number);
  report.changes.sort(byNumber);
  report.warnings.sort(byNumber);
  report.errors.sort(byNumber);
  try {
    report.orphans = await findOrphans(deps.em, gateway, period);
  } catch (error) {
    const message = redactSecrets(error instanceof Error ? error.message : String(error));
    report.errors.push({ invoiceId: '', number: '', message: `Listing Stripe invoices failed: ${message}` });
  }
  deps.log?.info(
    { period: period.key, dryRun, checked: report.checked, changes: report.changes.length },
    'reconciliation finished',
  );
  return report;
}
