import { systemClock } from '../../config/clock';
import { Invoice } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import { describeMismatch, failedWith, redactSecrets, totalMismatch } from '../../stripe';
import type { RemoteEvent, RemoteInvoice, TotalMismatch } from '../../stripe';
import { parsePeriod } from '../billing-runs/billing-period';
import { reissueInvoice } from '../invoicing/create-invoice.service';
import { RECONCILIATION_CALLER, applyPlan, resumeDraft } from './reconcile-apply';
import { isTerminal } from '../invoicing/invoice-status';
import { planInvoice } from './reconcile-plan';
import { reconcileCreditNotes } from './reconcile-credit-notes';
import { findOrphans } from './reconcile-orphans';
import type {
  ReconcileChange,
  ReconcileDeps,
  ReconcileInput,
  ReconcileIssue,
  ReconcileReport,
} from './reconcile-report';
import {
  DEFAULT_PROCESSING_TIMEOUT_MS,
  hasStalePayment,
  releaseStalePayment,
  stripePaymentActivity,
} from './reconcile-stale-payment';
import { owesSend, recordSent, sendInvoice } from '../invoicing/send-invoice.service';
import { retryRateLimited } from '../shared/stripe-rate-limit-retry';

export type {
  ReconcileChange,
  ReconcileDeps,
  ReconcileInput,
  ReconcileIssue,
  ReconcileOrphan,
  ReconcileReport,
} from './reconcile-report';
export { DEFAULT_PROCESSING_TIMEOUT_MS } from './reconcile-stale-payment';

/**
 * Compares every local invoice of a period with its Stripe invoice and applies what we missed, forward-only, through
 * `transitionInvoice` (source RECONCILIATION): a payment, a void, an uncollectible mark, the amount paid. A DRAFT stuck
 * half-way is resumed by `createInvoice` (idempotent). A PROCESSING invoice whose attempt has had no outcome for
 * `processingTimeoutMs` while Stripe shows no payment is released (PAYMENT_FAILED). An open invoice never e-mailed
 * (AUTO_SEND_INVOICES) is sent, unless Stripe's events show it was. A VOID invoice whose Stripe draft was deleted
 * (cancelling a DRAFT does that) is consistent. Stripe invoices of the period carrying our metadata with no local row
 * are reported. A dry run changes nothing and reports the same changes.
 */
export async function reconcile(deps: ReconcileDeps, input: ReconcileInput): Promise<ReconcileReport> {
  const period = parsePeriod(input.period);
  const dryRun = input.dryRun ?? false;
  const clock = deps.clock ?? systemClock;
  const now = new Date(clock.now());
  const processingTimeoutMs = input.processingTimeoutMs ?? DEFAULT_PROCESSING_TIMEOUT_MS;
  const gateway = retryRateLimited(deps.gateway, { clock });
  const report: ReconcileReport = {
    period: period.key,
    dryRun,
    checked: 0,
    changes: [],
    orphans: [],
    warnings: [],
    errors: [],
  };
  const failure = (error: unknown): string => redactSecrets(error instanceof Error ? error.message : String(error));
  // Stripe events since the period ended: `invoice.created` finds orphans, `invoice.sent` proves an e-mail went out.
  let events: RemoteEvent[] | null = null;
  try {
    events = await gateway.listEventsSince(period.end, ['invoice.created', 'invoice.sent']);
  } catch (error) {
    report.errors.push({ invoiceId: '', number: '', message: `Listing Stripe events failed: ${failure(error)}` });
  }
  const sentInStripe = new Map<string, Date>();
  for (const event of events ?? []) {
    if (
      event.type === 'invoice.sent' &&
      event.object.kind === 'invoice' &&
      !sentInStripe.has(event.object.invoice.id)
    ) {
      sentInStripe.set(event.object.invoice.id, event.created);
    }
  }
  const invoices = await deps.em
    .fork()
    .find(Invoice, { period: period.key }, { populate: ['customer'], orderBy: { number: 'asc' } });
  const check = async (invoice: Invoice): Promise<void> => {
    report.checked += 1;
    const issue = (message: string): ReconcileIssue => ({ invoiceId: invoice.id, number: invoice.number, message });
    const change = (action: ReconcileChange['action'], from: string, to: string): ReconcileChange => ({
      invoiceId: invoice.id,
      number: invoice.number,
      stripeInvoiceId: invoice.stripeInvoiceId ?? null,
      action,
      from,
      to,
      applied: !dryRun,
    });
    try {
      let remote: RemoteInvoice | null = null;
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
      report.changes.push(...steps.map((step) => change(step.kind, String(step.from), String(step.to))));
      let status = invoice.status;
      for (const step of steps) {
        status = step.kind === 'status' ? step.to : status;
      }
      // Credit notes and refunds whose webhook never came (made by us, or in the Stripe Dashboard).
      for (const note of await reconcileCreditNotes(deps.em, gateway, invoice, remote, dryRun)) {
        report.changes.push(change('credit_note', `${note.number} ${note.from}`, note.to));
      }

      // A payment whose outcome never came (Stripe failed before charging): released once Stripe confirms no payment.
      if (
        status === InvoiceStatus.PROCESSING &&
        remote.status === 'open' &&
        (await hasStalePayment(deps.em, invoice.id, now, processingTimeoutMs))
      ) {
        const detailed = await gateway.retrieveInvoiceWithPaymentIntents(remote.id);
        if (stripePaymentActivity(detailed) === null) {
          const released =
            dryRun ||
            (await releaseStalePayment(deps.em, {
              invoiceId: invoice.id,
              remote: detailed,
              now,
              timeoutMs: processingTimeoutMs,
              period: period.key,
            }));
          if (released) {
            report.changes.push(change('payment_timeout', InvoiceStatus.PROCESSING, InvoiceStatus.PAYMENT_FAILED));
            status = InvoiceStatus.PAYMENT_FAILED;
          }
        }
      }

      // invariant 3 of docs/architecture.md: a payable Stripe invoice that does not total ours is never sent or paid. It is voided and
      // the period invoiced again (its usage goes onto the new invoice); a paid one is reported with both totals.
      const mismatch = isTerminal(status) ? null : totalMismatch(remote, invoice);
      if (mismatch) {
        deps.log?.error(
          { invoiceId: invoice.id, number: invoice.number, ...mismatchLog(mismatch) },
          'Stripe total differs',
        );
        if (dryRun) {
          report.changes.push(change('reissue', invoice.number, 'a new invoice'));
          return;
        }
        const reissued = await reissueInvoice(
          { em: deps.em.fork(), gateway, config: deps.config, now },
          RECONCILIATION_CALLER,
          invoice,
          mismatch,
          StatusChangeSource.RECONCILIATION,
        );
        if (reissued.kind === 'invoice') {
          report.changes.push(change('reissue', invoice.number, reissued.invoice.number));
        } else {
          report.errors.push(
            issue(`${describeMismatch(mismatch)}; not reissued (${reissued.kind}): payment is blocked`),
          );
        }
        return;
      }
      if (remote.status === 'paid' && remote.totalMinor !== invoice.totalMinor) {
        report.errors.push(
          issue(
            `Stripe invoice ${remote.id} was paid for ${remote.totalMinor} ${remote.currency.toUpperCase()} in minor units, ` +
              `ours totals ${invoice.totalMinor} ${invoice.currency.toUpperCase()}: refund or collect the difference`,
          ),
        );
      }

      // An open invoice never e-mailed: decided from our row's sentAt and Stripe's invoice.sent events, not the status.
      if (remote.status === 'open' && events && owesSend({ ...invoice, status }, deps.config)) {
        const stripeSentAt = sentInStripe.get(remote.id);
        if (stripeSentAt) {
          if (!dryRun) {
            await recordSent(deps, invoice.id, stripeSentAt);
          }
          report.changes.push(change('sent_at', 'unsent', 'sent'));
        } else {
          const sent = dryRun ? null : await sendInvoice({ em: deps.em, gateway, config: deps.config }, invoice.id);
          if (sent?.kind === 'refused') {
            report.warnings.push(issue(`Stripe refused to send the invoice: ${sent.message}`));
          } else if (!sent || sent.kind === 'sent') {
            report.changes.push(change('send', 'unsent', 'sent'));
          }
        }
      }
    } catch (error) {
      report.errors.push(issue(failure(error)));
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
  if (events) {
    try {
      report.orphans = await findOrphans(deps.em, gateway, period, events);
    } catch (error) {
      report.errors.push({ invoiceId: '', number: '', message: `Checking Stripe invoices failed: ${failure(error)}` });
    }
  }
  deps.log?.info(
    { period: period.key, dryRun, checked: report.checked, changes: report.changes.length },
    'reconciliation finished',
  );
  return report;
}

/** Both totals for the log line (bigints as strings). */
function mismatchLog(m: TotalMismatch): Record<string, string | null> {
  return {
    stripeInvoiceId: m.stripeInvoiceId,
    stripeStatus: m.stripeStatus,
    stripeTotal: `${m.stripeTotalMinor} ${m.stripeCurrency}`,
    ourTotal: `${m.ourTotalMinor} ${m.ourCurrency}`,
  };
}
