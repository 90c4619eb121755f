import { paymentOutcomes } from '../../lib/metrics';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice, PaymentAttempt } from '../../entities';
import { InvoiceStatus, PaymentAttemptStatus, StatusChangeSource } from '../../entities/enums';
import { StripeGatewayError, describeMismatch } from '../../stripe';
import type { PayInvoiceResult, TotalMismatch } from '../../stripe';
import type { Caller } from '../customers/caller';
import type { InvoiceDeps } from '../invoicing/invoice-deps';
import { BadInputError } from '../shared/errors';
import { findAccessibleInvoice } from '../invoicing/get-invoices.service';
import { applyStripeStatus } from '../stripe-events/apply-stripe-status';
import { PAYABLE, canTransition, transitionInvoice } from '../invoicing/invoice-status';
import {
  attemptLimitBlocking,
  describeBlock,
  lockCustomerAttempts,
  userAttemptsInFlight,
} from './payment-attempt-limits';
import type { AttemptLimitBlock } from './payment-attempt-limits';
import { AUTHENTICATION_REQUIRED_REASON, paymentErrorReason, recordPaymentError } from './payment-error';

export type PayInvoiceOutcome =
  | { kind: 'paid'; invoice: Invoice }
  | { kind: 'declined'; invoice: Invoice; code: string; declineCode: string | null; message: string }
  | { kind: 'requires_action'; invoice: Invoice; clientSecret: string | null; message: string }
  | { kind: 'invalid_state'; status: InvoiceStatus; message: string }
  | { kind: 'pending'; invoice: Invoice; message: string }
  /** Card testing: too many failed attempts on this invoice or by its owner; nothing was sent to Stripe. */
  | { kind: 'attempts_exceeded'; block: AttemptLimitBlock; message: string; retryAfterSeconds: number }
  /** Stripe's invoice does not total ours: nothing was charged; reconciliation reissues it (or reports it). */
  | { kind: 'total_mismatch'; invoice: Invoice; mismatch: TotalMismatch; message: string };

export interface PayInvoiceInput {
  invoiceId: string;
  paymentMethodId: string;
  userId?: string | null;
  /**
   * A dunning retry: the customer is not present (Stripe's `off_session`), the attempt is the step's (one per step:
   * a step resumed after a crash takes up its attempt with the same idempotency key instead of charging again), and
   * the history names dunning as the cause.
   */
  dunningStep?: number;
}

const PAYMENT_METHOD = /^pm_[A-Za-z0-9_]{1,200}$/;
const STALE_PENDING_MS = 2 * 60 * 1000;

/**
 * Pays an invoice with a Stripe payment method (owner, admin or service). One attempt at a time per invoice: the
 * attempt row is created under a row lock on the invoice, and a second caller meanwhile gets InvoiceStateError, so
 * two concurrent calls never make two charges. The Stripe call's idempotency key is `invoice:<id>:pay:<attempt>`,
 * so the SDK's retries of a 5xx or timeout cannot charge twice either. If the outcome stays unknown the invoice is
 * PROCESSING and the webhook settles it; if Stripe never charged (no webhook will come), reconciliation releases it
 * to PAYMENT_FAILED after a timeout (`reconcile-stale-payment.ts`).
 */
export async function payInvoice(
  deps: InvoiceDeps,
  caller: Caller,
  /** `userId`: whose invoice the caller says it is (`findAccessibleInvoice`), as the REST routes' `user_id`. */
  input: PayInvoiceInput,
): Promise<PayInvoiceOutcome> {
  const outcome = await attemptPayment(deps, caller, input);
  // agenthub_payment_outcomes_total: a spike of declines (card testing, a bank's outage) shows by decline code.
  paymentOutcomes.inc({
    outcome: outcome.kind,
    decline_code: outcome.kind === 'declined' ? (outcome.declineCode ?? outcome.code) : '',
  });
  return outcome;
}

async function attemptPayment(deps: InvoiceDeps, caller: Caller, input: PayInvoiceInput): Promise<PayInvoiceOutcome> {
  if (!PAYMENT_METHOD.test(input.paymentMethodId)) {
    throw new BadInputError(
      'paymentMethodId must be a Stripe payment method id (pm_…); card numbers are never accepted here',
      'paymentMethodId',
    );
  }
  await findAccessibleInvoice(deps.em.fork(), caller, input.invoiceId, input.userId);
  const now = deps.now ?? new Date();

  const claim = await deps.em.fork().transactional(async (tem) => {
    const invoice = await tem.findOneOrFail(Invoice, input.invoiceId, { lockMode: LockMode.PESSIMISTIC_WRITE });
    // PROCESSING (an earlier outcome stayed unknown) may be retried: Stripe never charges an invoice twice.
    if (!PAYABLE.includes(invoice.status) && invoice.status !== InvoiceStatus.PROCESSING) {
      return { kind: 'invalid_state' as const, status: invoice.status, message: stateMessage(invoice.status) };
    }
    // An attempt left pending by a crash stops blocking after a while; its outcome is then unknown, and the next
    // attempt is safe: Stripe refuses to charge an invoice twice (the gateway reports "already paid" as paid).
    // Its age is measured on the caller's clock (a test moves it past the two minutes instead of waiting).
    await tem.nativeUpdate(
      PaymentAttempt,
      { invoice, status: PaymentAttemptStatus.PENDING, createdAt: { $lt: new Date(now.getTime() - STALE_PENDING_MS) } },
      { status: PaymentAttemptStatus.UNKNOWN, errorMessage: 'abandoned: no outcome recorded' },
    );
    const resumed = input.dunningStep ? await resumeStepAttempt(tem, invoice, input.dunningStep) : null;
    if (resumed?.kind === 'invalid_state') {
      return resumed;
    }
    if (resumed) {
      return {
        kind: 'claimed' as const,
        attemptId: resumed.attempt.id,
        attemptNumber: resumed.attempt.attemptNumber,
        stripeInvoiceId: invoice.stripeInvoiceId,
        expected: { totalMinor: invoice.totalMinor, currency: invoice.currency },
      };
    }
    const pending = await tem.count(PaymentAttempt, { invoice, status: PaymentAttemptStatus.PENDING });
    if (pending > 0) {
      return {
        kind: 'invalid_state' as const,
        status: invoice.status,
        message: 'A payment for this invoice is already in progress',
      };
    }
    // Under the invoice's lock and the customer's, so two concurrent tries (on this invoice, or on two of its
    // owner's) cannot both pass the last free attempt of the invoice or of the user.
    await lockCustomerAttempts(tem, invoice.customer.id);
    const block = await attemptLimitBlocking(
      tem,
      deps.config.billing,
      { id: invoice.id, customerId: invoice.customer.id },
      now,
    );
    if (block) {
      return {
        kind: 'attempts_exceeded' as const,
        block,
        message: describeBlock(block),
        retryAfterSeconds: Math.max(1, Math.ceil((block.resetsAt.getTime() - now.getTime()) / 1000)),
      };
    }
    const crowded = await userAttemptsInFlight(
      tem,
      deps.config.billing,
      invoice.customer.id,
      now,
      new Date(now.getTime() - STALE_PENDING_MS),
    );
    if (crowded) {
      return {
        kind: 'invalid_state' as const,
        status: invoice.status,
        message:
          `Your payment attempts on other invoices are in progress and could use the last of your failed attempts ` +
          `allowed (${crowded.failedAttempts} failed, ${crowded.inFlight} in progress, limit ${crowded.limit}); ` +
          'try again once they finish',
      };
    }
    const attemptNumber = (await tem.count(PaymentAttempt, { invoice })) + 1;
    const attempt = tem.create(PaymentAttempt, {
      invoice,
      attemptNumber,
      paymentMethodId: input.paymentMethodId,
      status: PaymentAttemptStatus.PENDING,
      idempotencyKey: `invoice:${invoice.id}:pay:${attemptNumber}`,
      amountMinor: invoice.totalMinor - invoice.amountPaidMinor,
      currency: invoice.currency,
      requestedBy: caller.userId,
      // The caller's clock: the attempt limits' windows and the stale-attempt timeout are measured on it.
      createdAt: now,
      dunningStep: input.dunningStep ?? null,
    });
    await tem.flush();
    return {
      kind: 'claimed' as const,
      attemptId: attempt.id,
      attemptNumber,
      stripeInvoiceId: invoice.stripeInvoiceId,
      expected: { totalMinor: invoice.totalMinor, currency: invoice.currency },
    };
  });
  if (claim.kind === 'invalid_state') {
    return claim;
  }
  if (claim.kind === 'attempts_exceeded') {
    deps.log?.warn(
      {
        invoiceId: input.invoiceId,
        userId: claim.block.userId,
        requestedBy: caller.userId,
        scope: claim.block.scope,
        failedAttempts: claim.block.failedAttempts,
        limit: claim.block.limit,
        resetsAt: claim.block.resetsAt.toISOString(),
      },
      'payment refused: attempt limit reached',
    );
    return claim;
  }

  let result: PayInvoiceResult;
  try {
    result = await deps.gateway.payInvoice({
      invoiceId: input.invoiceId,
      stripeInvoiceId: claim.stripeInvoiceId as string,
      attempt: claim.attemptNumber,
      paymentMethodId: input.paymentMethodId,
      expected: claim.expected,
      offSession: input.dunningStep !== undefined,
    });
  } catch (error) {
    // Not a payment outcome (unknown payment method, rate limit…): nothing was charged; close the attempt.
    const failure = error instanceof StripeGatewayError ? error.failure : undefined;
    await deps.em.fork().nativeUpdate(
      PaymentAttempt,
      { id: claim.attemptId },
      {
        status: PaymentAttemptStatus.DECLINED,
        errorCode: failure?.kind ?? 'error',
        errorMessage: failure && 'message' in failure ? failure.message : 'payment request failed',
        completedAt: new Date(),
      },
    );
    if (failure?.kind === 'invalid_request' || failure?.kind === 'not_found') {
      throw new BadInputError(`Stripe rejected the payment: ${failure.message}`, 'paymentMethodId');
    }
    if (failure?.kind === 'rate_limited') {
      const invoice = await deps.em.fork().findOneOrFail(Invoice, input.invoiceId, { populate: ['customer'] });
      return { kind: 'pending', invoice, message: 'Stripe is busy; nothing was charged, try again shortly' };
    }
    throw error;
  }

  // Stripe refused because its invoice is no longer payable (voided or paid there, its webhook not applied yet):
  // the gateway re-read it, so our row follows Stripe instead of answering from a stale status.
  const remote = result.outcome === 'invalid_state' ? (result.invoice ?? null) : null;

  return deps.em.fork().transactional(async (tem) => {
    const invoice = await tem.findOneOrFail(Invoice, input.invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer'],
    });
    const attempt = await tem.findOneOrFail(PaymentAttempt, claim.attemptId);
    attempt.completedAt = new Date();
    const cause = input.dunningStep
      ? { source: StatusChangeSource.SYSTEM, ref: `dunning:step:${input.dunningStep}` }
      : { source: StatusChangeSource.API, ref: caller.userId };
    // A webhook may have moved the invoice meanwhile; never move it backwards.
    const move = async (to: InvoiceStatus, reason: string): Promise<void> => {
      if (invoice.status === to || canTransition(invoice.status, to)) {
        await transitionInvoice(tem, invoice, to, { ...cause, reason });
      }
    };
    switch (result.outcome) {
      case 'paid':
        attempt.status = PaymentAttemptStatus.SUCCEEDED;
        invoice.amountPaidMinor = result.invoice.amountPaidMinor;
        await move(InvoiceStatus.PAID, `paid with ${input.paymentMethodId}`);
        await tem.flush();
        return { kind: 'paid', invoice };
      case 'declined': {
        Object.assign(attempt, {
          status: PaymentAttemptStatus.DECLINED,
          errorCode: result.code,
          declineCode: result.declineCode,
          errorMessage: result.message,
        });
        const error = { code: result.code, declineCode: result.declineCode, message: result.message };
        invoice.stripePaymentIntentId = result.paymentIntentId ?? invoice.stripePaymentIntentId ?? null;
        // A webhook may already have moved the invoice on (paid by a later attempt): then this decline is history.
        if (
          invoice.status === InvoiceStatus.PAYMENT_FAILED ||
          canTransition(invoice.status, InvoiceStatus.PAYMENT_FAILED)
        ) {
          recordPaymentError(invoice, error, attempt.completedAt);
        }
        await move(InvoiceStatus.PAYMENT_FAILED, paymentErrorReason(error));
        await tem.flush();
        return {
          kind: 'declined',
          invoice,
          code: result.code,
          declineCode: result.declineCode,
          message: result.message,
        };
      }
      case 'requires_action':
        attempt.status = PaymentAttemptStatus.REQUIRES_ACTION;
        invoice.stripePaymentIntentId = result.paymentIntentId ?? invoice.stripePaymentIntentId ?? null;
        // The attempt count after this attempt: a late failure event of an earlier attempt is then told apart.
        invoice.stripeAttemptCount = Math.max(invoice.stripeAttemptCount, result.invoice?.attemptCount ?? 0);
        await move(InvoiceStatus.REQUIRES_ACTION, AUTHENTICATION_REQUIRED_REASON);
        await tem.flush();
        return {
          kind: 'requires_action',
          invoice,
          clientSecret: result.clientSecret ?? null,
          message: 'The customer must complete 3-D Secure authentication',
        };
      case 'invalid_state':
        Object.assign(attempt, { status: PaymentAttemptStatus.DECLINED, errorMessage: result.message });
        if (remote) {
          await applyStripeStatus(tem, invoice, remote, {
            ...cause,
            reason: `Stripe refused the payment: ${remote.status}`,
          });
        }
        await tem.flush();
        return { kind: 'invalid_state', status: invoice.status, message: result.message };
      case 'total_mismatch': {
        const message =
          `This invoice cannot be paid: ${describeMismatch(result.mismatch)}. Nothing was charged; ` +
          'reconciliation voids and reissues it.';
        Object.assign(attempt, {
          status: PaymentAttemptStatus.DECLINED,
          errorCode: 'total_mismatch',
          errorMessage: message,
        });
        await tem.flush();
        return { kind: 'total_mismatch', invoice, mismatch: result.mismatch, message };
      }
      default:
        attempt.status = PaymentAttemptStatus.UNKNOWN;
        attempt.errorMessage = result.message;
        await move(InvoiceStatus.PROCESSING, 'payment outcome unknown: Stripe unavailable');
        await tem.flush();
        return {
          kind: 'pending',
          invoice,
          message: 'Stripe did not confirm the payment; its outcome will be applied when Stripe reports it',
        };
    }
  });
}

function stateMessage(status: InvoiceStatus): string {
  switch (status) {
    case InvoiceStatus.PAID:
      return 'This invoice is already paid';
    case InvoiceStatus.VOID:
      return 'This invoice is void';
    case InvoiceStatus.DRAFT:
      return 'This invoice is not finalized yet';
    default:
      return `An invoice in status ${status} cannot be paid`;
  }
}

/**
 * The attempt a dunning step already made, when its outcome was never recorded (the instance died while Stripe
 * answered): taken up again with its number, so its idempotency key replays Stripe's answer instead of charging
 * again. A step whose attempt has an outcome makes no other. Null: the step has made no attempt yet.
 */
async function resumeStepAttempt(
  tem: EntityManager,
  invoice: Invoice,
  step: number,
): Promise<
  { kind: 'resume'; attempt: PaymentAttempt } | { kind: 'invalid_state'; status: InvoiceStatus; message: string } | null
> {
  const attempt = await tem.findOne(PaymentAttempt, { invoice, dunningStep: step });
  if (!attempt) {
    return null;
  }
  if (attempt.status !== PaymentAttemptStatus.PENDING && attempt.status !== PaymentAttemptStatus.UNKNOWN) {
    return {
      kind: 'invalid_state',
      status: invoice.status,
      message: `Dunning step ${step} has made its payment attempt already (${attempt.status})`,
    };
  }
  attempt.status = PaymentAttemptStatus.PENDING;
  attempt.errorMessage = null;
  await tem.flush();
  return { kind: 'resume', attempt };
}
