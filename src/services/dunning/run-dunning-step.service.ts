import { Invoice, PaymentAttempt } from '../../entities';
import { DunningState, InvoiceStatus, PaymentAttemptStatus, Role, StatusChangeSource } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { canTransition } from '../invoicing/invoice-status';
import type { InvoiceDeps } from '../invoicing/invoice-deps';
import { payInvoice } from '../payments/pay-invoice.service';
import type { PayInvoiceOutcome } from '../payments/pay-invoice.service';
import { BadInputError } from '../shared/errors';
import { followStripeInvoice } from '../stripe-events/apply-stripe-status';
import type { DunningPolicy } from './dunning-policy';
import { stepDueAt } from './dunning-policy';
import { finishStep, markReminded, retryPaymentMethod } from './dunning-store';
import type { ClaimedStep } from './dunning-store';

/** Who dunning pays as: a service acting for the platform (attempts say `requestedBy: dunning`). */
export const DUNNING_CALLER: Caller = { userId: 'dunning', role: Role.SERVICE };

export interface DunningStepResult {
  invoiceId: string;
  step: number;
  outcome: string;
  state: DunningState;
  /** False when another instance took the step over meanwhile (this one's lease expired) and finished it. */
  finished: boolean;
}

/**
 * One claimed dunning step: the reminder (Stripe e-mails the invoice again), the retry (a `payInvoice` attempt with
 * the payment method the customer last paid with, off-session), and after the last step the final action. Each
 * part is done once however often the step is resumed: the reminder's idempotency key and `remindedStep`, the
 * step's one payment attempt (`payment_attempts.dunning_step`, resumed with its key), Stripe's answer to marking an
 * uncollectible invoice again. `now` is the instance's clock.
 */
export async function runDunningStep(
  deps: InvoiceDeps,
  policy: DunningPolicy,
  claimed: ClaimedStep,
  instance: string,
  now: Date,
): Promise<DunningStepResult> {
  const step = claimed.step + 1;
  const em = deps.em.fork();
  const invoice = await em.findOneOrFail(Invoice, claimed.invoiceId);
  const stripeInvoiceId = invoice.stripeInvoiceId as string;

  if (policy.reminders && claimed.remindedStep < step) {
    await deps.gateway.sendReminder(invoice.id, stripeInvoiceId, step);
    await markReminded(em, claimed.id, instance, step);
  }

  let outcome = await retry(deps, invoice.id, step, now);
  const last = step >= policy.retryDays.length;
  const current = await deps.em.fork().findOneOrFail(Invoice, invoice.id);
  let state = DunningState.ACTIVE;
  if (current.status === InvoiceStatus.PAID) {
    state = DunningState.RECOVERED;
  } else if (current.status === InvoiceStatus.VOID || current.status === InvoiceStatus.UNCOLLECTIBLE) {
    state = DunningState.CANCELED;
  } else if (last) {
    state = DunningState.EXHAUSTED;
    // The last retry did not pay: declined, or waiting for a 3-D Secure the customer has not completed (REQUIRES_ACTION)
    // — as with Stripe's own retries, the final action applies to both. The customer can still pay an uncollectible
    // invoice (its authentication included): it then moves to PAID.
    if (policy.finalAction === 'uncollectible' && canTransition(current.status, InvoiceStatus.UNCOLLECTIBLE)) {
      const remote = await deps.gateway.markUncollectible(invoice.id, stripeInvoiceId);
      const why =
        current.status === InvoiceStatus.REQUIRES_ACTION
          ? 'the last retry awaits authentication by the customer'
          : `${policy.retryDays.length} retries failed`;
      await followStripeInvoice(deps.em, invoice.id, remote, {
        source: StatusChangeSource.SYSTEM,
        ref: `dunning:step:${step}`,
        reason: `dunning: ${why}; marked uncollectible`,
      });
      outcome = `${outcome}; marked uncollectible`;
    }
  }
  const finished = await finishStep(deps.em.fork(), {
    id: claimed.id,
    instance,
    step,
    now,
    outcome,
    state,
    nextAttemptAt: state === DunningState.ACTIVE ? stepDueAt(policy, claimed.startedAt, step + 1) : null,
  });
  return { invoiceId: invoice.id, step, outcome, state, finished };
}

/** The step's payment attempt: made once, or taken up again when its outcome was never recorded. */
async function retry(deps: InvoiceDeps, invoiceId: string, step: number, now: Date): Promise<string> {
  const em = deps.em.fork();
  const earlier = await em.findOne(PaymentAttempt, { invoice: invoiceId, dunningStep: step });
  if (earlier && earlier.status !== PaymentAttemptStatus.PENDING && earlier.status !== PaymentAttemptStatus.UNKNOWN) {
    return `${earlier.status}${earlier.errorCode ? `: ${earlier.errorCode}` : ''}`;
  }
  const paymentMethodId = earlier?.paymentMethodId ?? (await retryPaymentMethod(em, invoiceId));
  if (!paymentMethodId) {
    return 'no payment method to retry with';
  }
  try {
    return describe(
      await payInvoice({ ...deps, em: deps.em.fork(), now }, DUNNING_CALLER, {
        invoiceId,
        paymentMethodId,
        dunningStep: step,
      }),
    );
  } catch (error) {
    if (error instanceof BadInputError) {
      // The payment method is gone or unusable: the reminder still asks the customer to pay.
      return `payment method refused: ${error.message}`;
    }
    throw error;
  }
}

function describe(outcome: PayInvoiceOutcome): string {
  switch (outcome.kind) {
    case 'paid':
      return 'paid';
    case 'declined':
      return `declined: ${outcome.declineCode ?? outcome.code}`;
    case 'requires_action':
      return 'requires action: the customer must authenticate';
    case 'attempts_exceeded':
      return `not retried: ${outcome.message}`;
    default:
      return `${outcome.kind}: ${outcome.message}`;
  }
}
