import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import { Customer, Invoice, InvoiceLine } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import type { RemoteInvoice, TotalMismatch } from '../../stripe';
import { StripeGatewayError, TotalMismatchError, describeMismatch } from '../../stripe';
import type { BillingPeriod } from '../billing-runs/billing-period';
import { parsePeriod } from '../billing-runs/billing-period';
import type { Caller } from '../customers/caller';
import type { InvoiceDeps } from './invoice-deps';
import { resolveSubject } from '../customers/caller';
import { NotFoundError, quote } from '../shared/errors';
import { getCurrentCustomer } from '../customers/get-current-customer.service';
import { followStripeInvoice } from '../stripe-events/apply-stripe-status';
import { computeInvoiceLines } from './invoice-lines';
import { recordCreation } from './invoice-status';
import type { StatusCause } from './invoice-status';
import { formatInvoiceNumber } from './invoice-number';
import { cancelInvoice } from './cancel-invoice.service';
import { publishDraft } from './publish-invoice';
import { owesSend, sendInvoice } from './send-invoice.service';
import { nextInvoiceSequence } from './invoice-repository';
import { billUsageOnInvoice } from '../usage/usage-repository';

export type CreateInvoiceOutcome =
  | { kind: 'invoice'; invoice: Invoice }
  | { kind: 'no_usage'; period: string }
  | { kind: 'period_not_ended'; period: string }
  /** cancelInvoice voided the DRAFT while it was being published: nothing payable was left in Stripe. */
  | { kind: 'cancelled'; invoice: Invoice; message: string }
  | { kind: 'stripe_unavailable'; invoice: Invoice; message: string }
  /**
   * Stripe refuses the amount (`amount_too_large`: more than one charge may carry, `amount_too_small`): our invoice
   * stays a DRAFT with its exact lines, never payable in Stripe; nothing was charged.
   */
  | { kind: 'stripe_refused'; invoice: Invoice; stripeCode: string; message: string }
  /**
   * Stripe's invoice does not total ours and could not be put right (a draft whose items were repaired and still
   * differ, or a reissue that differed again): it was not finalized or sent, and it cannot be paid.
   */
  | { kind: 'total_mismatch'; invoice: Invoice; mismatch: TotalMismatch; message: string };

const CANCELLED_MESSAGE =
  'The invoice was cancelled while it was being created; Stripe holds nothing payable for it and its usage is ' +
  'unbilled again (call createInvoice again to bill it)';

/**
 * Creates (or returns, or resumes) the invoice of a customer for an ended period. Idempotent: while a non-VOID
 * invoice exists for the customer and period it is returned; a DRAFT left by a crash or a Stripe failure is resumed
 * from where it stopped (`publishDraft`: it finds what an earlier attempt made in Stripe before creating anything,
 * however long ago that was), and so is an open invoice whose e-mail was never sent (AUTO_SEND_INVOICES). A Stripe
 * invoice is finalized and e-mailed only while it totals ours; an open one found with another total is voided and
 * the period invoiced again (`reissueInvoice`). An invoice cancelled while this runs stops it (`cancelled`).
 * `reissueOf` is the number of the invoice this one replaces (recorded in its history; it is not reissued again).
 */
export async function createInvoice(
  deps: InvoiceDeps,
  caller: Caller,
  input: { period: string; userId?: string | null; reissueOf?: string; source?: StatusChangeSource },
): Promise<CreateInvoiceOutcome> {
  const now = deps.now ?? new Date();
  const userId = resolveSubject(caller, input.userId);
  const period = parsePeriod(input.period);
  if (now.getTime() < period.end.getTime()) {
    return { kind: 'period_not_ended', period: period.key };
  }
  const customer =
    userId === caller.userId
      ? await getCurrentCustomer(deps.em, caller)
      : await deps.em.findOne(Customer, { externalUserId: userId });
  if (!customer) {
    throw new NotFoundError(`Customer ${quote(userId)}`);
  }

  const reason = input.reissueOf ? `reissues ${input.reissueOf}` : null;
  const source = input.source ?? StatusChangeSource.API;
  const draft = await createDraft(deps, customer, period, {
    source,
    ref: caller.userId,
    reason,
    at: now,
  });
  if (draft.kind !== 'invoice') {
    return draft;
  }
  let invoice = draft.invoice;
  if (invoice.status !== InvoiceStatus.DRAFT && !owesSend(invoice, deps.config)) {
    return draft;
  }
  try {
    let checked: RemoteInvoice | undefined;
    if (invoice.status === InvoiceStatus.DRAFT) {
      const published = await publishDraft(deps, invoice.id, caller);
      if (published.kind === 'cancelled') {
        return { kind: 'cancelled', invoice: published.invoice, message: CANCELLED_MESSAGE };
      }
      if (published.kind === 'total_mismatch') {
        return mismatched(deps, caller, published.invoice, published.mismatch, { ...input, source });
      }
      invoice = published.invoice;
      checked = published.remote;
    }
    // Last step, also resumed on an invoice a webhook opened while our send failed: decided from `sentAt`.
    const sent = await sendInvoice(deps, invoice.id, checked);
    if (sent.kind === 'refused' || sent.invoice.status === InvoiceStatus.VOID) {
      // Stripe refused the e-mail, or the row is VOID already: cancelled between publishing and the e-mail (the
      // cancel's own VOID may still be committing), or voided in the Stripe dashboard before its webhook came. Our
      // row follows Stripe (VOID releases the usage), so the answer is true of both.
      const current = invoice.stripeInvoiceId
        ? await followStripeInvoice(deps.em, invoice.id, await deps.gateway.retrieveInvoice(invoice.stripeInvoiceId), {
            source: StatusChangeSource.API,
            ref: caller.userId,
            reason: 'Stripe refused the e-mail',
          })
        : sent.invoice;
      return current.status === InvoiceStatus.VOID
        ? { kind: 'cancelled', invoice: current, message: CANCELLED_MESSAGE }
        : { kind: 'invoice', invoice: current };
    }
    return { kind: 'invoice', invoice: sent.invoice };
  } catch (error) {
    if (error instanceof TotalMismatchError) {
      // An open invoice (left by an earlier attempt) whose e-mail was still owed.
      return mismatched(deps, caller, await current(deps, invoice.id), error.mismatch, { ...input, source });
    }
    if (!(error instanceof StripeGatewayError)) {
      throw error;
    }
    // A cancel that withdrew the Stripe invoice under us makes our next Stripe write fail (not found, not editable):
    // the cancel is the outcome, not the failure.
    const latest = await current(deps, invoice.id);
    if (latest.status === InvoiceStatus.VOID) {
      return { kind: 'cancelled', invoice: latest, message: CANCELLED_MESSAGE };
    }
    if (error.failure.kind === 'invalid_request' && STRIPE_AMOUNT_REFUSALS.has(error.failure.code ?? '')) {
      return {
        kind: 'stripe_refused',
        invoice: latest,
        stripeCode: error.failure.code!,
        message:
          `Stripe refuses this invoice's amount (${error.failure.code}): it stays a draft here and cannot be paid ` +
          `through Stripe; nothing was charged. Stripe says: ${error.failure.message}`,
      };
    }
    if (['unavailable', 'rate_limited'].includes(error.failure.kind)) {
      return {
        kind: 'stripe_unavailable',
        invoice: latest,
        message: 'Stripe is unavailable; call createInvoice again to resume',
      };
    }
    throw error;
  }
}

/** Stripe's refusals of an amount, which no retry changes. */
const STRIPE_AMOUNT_REFUSALS = new Set(['amount_too_large', 'amount_too_small']);

function current(deps: InvoiceDeps, invoiceId: string): Promise<Invoice> {
  return deps.em.fork().findOneOrFail(Invoice, invoiceId, { populate: ['customer'] });
}

/** A Stripe invoice already payable with another total is reissued, once; a draft that stays wrong is reported. */
function mismatched(
  deps: InvoiceDeps,
  caller: Caller,
  invoice: Invoice,
  mismatch: TotalMismatch,
  input: { reissueOf?: string; source: StatusChangeSource },
): Promise<CreateInvoiceOutcome> {
  if (mismatch.stripeStatus !== 'draft' && !input.reissueOf) {
    return reissueInvoice(deps, caller, invoice, mismatch, input.source);
  }
  return Promise.resolve({
    kind: 'total_mismatch',
    invoice,
    mismatch,
    message: `${describeMismatch(mismatch)}: it was not finalized, sent or charged`,
  });
}

/**
 * Repairs an invoice whose open Stripe invoice does not total ours, before anything is charged: the Stripe invoice is
 * voided and our row VOID (cancelInvoice: its usage is released, the reason names both totals), then the period is
 * invoiced again for the customer, which bills the released usage on a new invoice (its history names the one it
 * reissues). A payment that reached Stripe first wins: the row follows Stripe and the mismatch is reported.
 */
export async function reissueInvoice(
  deps: InvoiceDeps,
  caller: Caller,
  invoice: Invoice,
  mismatch: TotalMismatch,
  source: StatusChangeSource = StatusChangeSource.API,
): Promise<CreateInvoiceOutcome> {
  const voided = await cancelInvoice(deps, caller, {
    invoiceId: invoice.id,
    reason: `${describeMismatch(mismatch)}: voided and reissued`,
    source,
  });
  if (voided.kind === 'stripe_unavailable') {
    return { kind: 'stripe_unavailable', invoice: voided.invoice, message: voided.message };
  }
  if (voided.kind === 'invalid_state') {
    return {
      kind: 'total_mismatch',
      invoice: await current(deps, invoice.id),
      mismatch,
      message: `${describeMismatch(mismatch)}; it could not be reissued: ${voided.message}`,
    };
  }
  return createInvoice(deps, caller, {
    period: voided.invoice.period,
    userId: voided.invoice.customer.externalUserId,
    reissueOf: voided.invoice.number,
    source,
  });
}

class NothingToBill extends Error {}

/**
 * Step 1, one database transaction: the DRAFT with its number and lines. Creations for one customer are serialised
 * by a lock on the customer row, so a concurrent call finds the first one's invoice. The invoice first claims the
 * usage it bills (one UPDATE: the period's unbilled usage, and late usage of earlier invoiced periods), then its
 * lines are computed from exactly the claimed records: an event arriving meanwhile is either claimed or left
 * unbilled for a later invoice, never lost and never billed twice.
 */
async function createDraft(
  deps: InvoiceDeps,
  customer: Customer,
  period: BillingPeriod,
  cause: StatusCause & { at: Date },
): Promise<CreateInvoiceOutcome> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await deps.em.fork().transactional(async (tem) => {
        await tem.findOneOrFail(Customer, customer.id, { lockMode: LockMode.PESSIMISTIC_WRITE });
        const existing = await tem.findOne(
          Invoice,
          { customer: customer.id, period: period.key, status: { $ne: InvoiceStatus.VOID } },
          { populate: ['customer'] },
        );
        if (existing) {
          return { kind: 'invoice', invoice: existing };
        }
        const currency = customer.currency ?? deps.config.billing.defaultCurrency;
        const prefix = deps.config.billing.invoicePrefix;
        const sequence = await nextInvoiceSequence(tem, prefix, period.key);
        const invoice = tem.create(Invoice, {
          number: formatInvoiceNumber(prefix, period.key, sequence, cause.at),
          customer: tem.getReference(Customer, customer.id),
          period: period.key,
          periodStart: period.start,
          periodEnd: period.end,
          status: InvoiceStatus.DRAFT,
          currency,
          stripeCustomerId: customer.stripeCustomerId ?? null,
        });
        await tem.flush();
        await billUsageOnInvoice(tem, {
          invoiceId: invoice.id,
          customerId: customer.id,
          periodStart: period.start,
          periodEnd: period.end,
        });
        const computed = await computeInvoiceLines(tem, customer.id, currency, period, invoice.id);
        if (computed.lines.length === 0 || computed.subtotalMinor <= 0n) {
          // Rolls back the claim, the number and the draft.
          throw new NothingToBill();
        }
        invoice.subtotalMinor = computed.subtotalMinor;
        invoice.totalMinor = computed.subtotalMinor;
        computed.lines.forEach((line, position) =>
          tem.create(InvoiceLine, {
            invoice,
            position,
            kind: line.kind,
            metric: line.metricId,
            price: line.priceId,
            description: line.description,
            quantity: line.quantity,
            unitAmount: line.unitAmount,
            amountMinor: line.amountMinor,
            currency,
            metadata: {
              usagePeriod: line.usagePeriod,
              metricCode: line.metricCode,
              billableQuantity: line.billableQuantity,
              unpriced: line.unpriced,
            },
          }),
        );
        await recordCreation(tem, invoice, cause);
        await tem.flush();
        return { kind: 'invoice', invoice };
      });
    } catch (error) {
      if (error instanceof NothingToBill) {
        return { kind: 'no_usage', period: period.key };
      }
      if (error instanceof UniqueConstraintViolationException && attempt < 2) {
        continue;
      }
      throw error;
    }
  }
}
