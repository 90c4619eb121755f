import Stripe from 'stripe';
import {
  customerCreateKey,
  invoiceCreateKey,
  invoiceFinalizeKey,
  invoiceLineKey,
  invoicePayKey,
  invoiceReminderKey,
  invoiceSendKey,
  invoiceUncollectibleKey,
  invoiceVoidKey,
} from './idempotency-keys';
import { createCreditNote, listCreditNotes } from './credit-notes';
import type { CreateCreditNoteInput } from './credit-notes';
import type { RemoteCreditNote } from './credit-note-snapshot';
import { toRemoteInvoice, toRemoteInvoiceItem } from './invoice-snapshot';
import type { RemoteInvoice, RemoteInvoiceItem } from './invoice-snapshot';
import { payFailureResult } from './pay-invoice-result';
import { RateLimiter } from './rate-limiter';
import { toStripeAmount } from './stripe-values';
import { StripeCaller } from './stripe-caller';
import { StripeGatewayError, failedWith } from './stripe-errors';
import { invoiceCreateParams, isDuplicateCreate } from './invoice-params';
import { METADATA } from './metadata';
import type { AddInvoiceItemInput, CreateCustomerInput, CreateInvoiceInput } from './stripe-gateway.types';
import type { PayInvoiceInput, PayInvoiceResult } from './stripe-gateway.types';
import type { ListedEvent } from './stripe-events';
import { findCustomerByOurId, findInvoiceByOurId, invoiceSentAt, listEventsSince } from './stripe-queries';
import { assertTotal, totalMismatch } from './total-guard';
import type { ExpectedTotal } from './total-guard';

export interface StripeGatewayOptions {
  stripe: Stripe;
  /** Defaults to Stripe's test-mode budget (25 requests/second). */
  limiter?: RateLimiter;
}

/** API 2026-10-28 only returns these invoice fields when asked (they are "includable"). */
const INVOICE_EXPAND = ['confirmation_secret', 'payments'];

/**
 * Every Stripe call the server makes. Writes carry deterministic idempotency keys; failures surface as
 * `StripeGatewayError` (see `StripeFailure`) except where a method returns an outcome union. Answers are our
 * snapshots (`RemoteInvoice`…): Stripe's objects stay in src/stripe.
 */
export class StripeGateway {
  private readonly caller: StripeCaller;

  constructor(options: StripeGatewayOptions) {
    this.caller = new StripeCaller(options.stripe, options.limiter ?? new RateLimiter({ requestsPerSecond: 25 }));
  }

  /**
   * Whether Stripe's rate budget is going unused right now: the client-side limiter has a request's worth of budget
   * nobody is waiting for. A billing run adds workers while it holds (more requests in flight).
   */
  hasIdleBudget(): boolean {
    return this.caller.idle;
  }

  /** The pace the client-side limiter keeps now (requests per second). */
  get requestsPerSecond(): number {
    return this.caller.requestsPerSecond;
  }

  /** One SDK call; `invoiceId` (ours) goes on its trace span when the call is for one of our invoices. */
  private call<T>(request: (stripe: Stripe) => Promise<T>, invoiceId?: string): Promise<T> {
    return this.caller.call(request, invoiceId);
  }

  /** One SDK call that answers an invoice, answered as our snapshot. */
  private async callForInvoice(
    request: (stripe: Stripe) => Promise<Stripe.Invoice>,
    invoiceId?: string,
  ): Promise<RemoteInvoice> {
    return toRemoteInvoice(await this.call(request, invoiceId));
  }

  /**
   * Crash recovery when we never stored the Stripe customer's id: the oldest customer whose metadata names ours.
   * Search lags writes by up to a minute, which only matters within the idempotency key's 24 hours, when a
   * re-create replays the first answer anyway.
   */
  findCustomerByOurId(customerId: string): Promise<string | null> {
    return findCustomerByOurId(this.caller, customerId);
  }

  async createCustomer(input: CreateCustomerInput): Promise<string> {
    const customer = await this.call((stripe) =>
      stripe.customers.create(
        {
          ...(input.email ? { email: input.email } : {}),
          ...(input.name ? { name: input.name } : {}),
          metadata: { [METADATA.customerId]: input.customerId, [METADATA.userId]: input.externalUserId },
        },
        { idempotencyKey: customerCreateKey(input.customerId) },
      ),
    );
    return customer.id;
  }

  async createInvoice(input: CreateInvoiceInput): Promise<RemoteInvoice> {
    const params = invoiceCreateParams(input);
    try {
      return await this.callForInvoice(
        (stripe) => stripe.invoices.create(params, { idempotencyKey: invoiceCreateKey(input.invoiceId) }),
        input.invoiceId,
      );
    } catch (error) {
      // Past the key's 24 h lifetime (or with changed parameters) a re-create after a crash fails on the
      // duplicate custom number or the reused key: the invoice we made the first time is the answer.
      if (isDuplicateCreate(error)) {
        const found = await this.findInvoiceByOurId(input.invoiceId, input.stripeCustomerId).catch(() => null);
        if (found) {
          return found;
        }
      }
      throw error;
    }
  }

  /**
   * One line of ours as an item of the draft: `quantity_decimal` × `unit_amount_decimal` when the line has them (Stripe
   * rounds their product to exactly our amount, see `stripeItemOf`), else the amount alone.
   */
  async addInvoiceItem(input: AddInvoiceItemInput): Promise<string> {
    const amount = toStripeAmount(input.amountMinor);
    const pricing: Pick<Stripe.InvoiceItemCreateParams, 'amount' | 'quantity_decimal' | 'unit_amount_decimal'> =
      input.pricing
        ? {
            quantity_decimal: Stripe.Decimal.from(input.pricing.quantity),
            unit_amount_decimal: Stripe.Decimal.from(input.pricing.unitAmountDecimal),
          }
        : { amount };
    const item = await this.call(
      (stripe) =>
        stripe.invoiceItems.create(
          {
            customer: input.stripeCustomerId,
            invoice: input.stripeInvoiceId,
            ...pricing,
            currency: input.currency.toLowerCase(),
            description: input.description,
            metadata: { [METADATA.invoiceId]: input.invoiceId, [METADATA.lineId]: input.lineId },
          },
          { idempotencyKey: invoiceLineKey(input.invoiceId, input.lineId, input.replaces) },
        ),
      input.invoiceId,
    );
    return item.id;
  }

  /** Every item attached to a Stripe invoice (all pages), with the line of ours each carries. */
  async listInvoiceItems(stripeInvoiceId: string): Promise<RemoteInvoiceItem[]> {
    const items: RemoteInvoiceItem[] = [];
    const pages = this.caller.listAll((stripe, after) =>
      stripe.invoiceItems.list({ invoice: stripeInvoiceId, limit: 100, ...(after ? { starting_after: after } : {}) }),
    );
    for await (const item of pages) {
      items.push(toRemoteInvoiceItem(item));
    }
    return items;
  }

  /** Removes an item from a draft (an item already gone counts as removed). Stripe ignores keys on DELETE. */
  async deleteInvoiceItem(itemId: string): Promise<void> {
    try {
      await this.call((stripe) => stripe.invoiceItems.del(itemId));
    } catch (error) {
      if (!failedWith(error, 'not_found')) {
        throw error;
      }
    }
  }

  /**
   * Finalizes a draft whose total is ours; an invoice that is no longer a draft (key expired, or finalized
   * elsewhere) is returned as it is. Throws `TotalMismatchError` instead of finalizing a draft that does not total
   * ours, and when the finalized invoice does not (a write that raced the check): the invoice is never made payable
   * silently with another total.
   */
  async finalizeInvoice(invoiceId: string, stripeInvoiceId: string, expected: ExpectedTotal): Promise<RemoteInvoice> {
    const current = assertTotal(await this.retrieveInvoice(stripeInvoiceId), expected);
    if (current.status !== 'draft') {
      return current;
    }
    let finalized: RemoteInvoice;
    try {
      finalized = await this.callForInvoice(
        (stripe) =>
          stripe.invoices.finalizeInvoice(
            stripeInvoiceId,
            { expand: INVOICE_EXPAND },
            { idempotencyKey: invoiceFinalizeKey(invoiceId) },
          ),
        invoiceId,
      );
    } catch (error) {
      finalized = await this.settledUnless(error, stripeInvoiceId, (invoice) => invoice.status !== 'draft');
    }
    return assertTotal(finalized, expected);
  }

  /**
   * E-mails a finalized invoice whose total is ours (`TotalMismatchError` otherwise). `checked` is the invoice as
   * read after finalization, when the caller has it: a finalized invoice's total can no longer change, so it is
   * not read again.
   */
  async sendInvoice(
    invoiceId: string,
    stripeInvoiceId: string,
    expected: ExpectedTotal,
    checked?: RemoteInvoice,
  ): Promise<RemoteInvoice> {
    const current =
      checked && checked.id === stripeInvoiceId && checked.status !== 'draft'
        ? checked
        : await this.retrieveInvoice(stripeInvoiceId);
    assertTotal(current, expected);
    return this.callForInvoice(
      (stripe) => stripe.invoices.sendInvoice(stripeInvoiceId, {}, { idempotencyKey: invoiceSendKey(invoiceId) }),
      invoiceId,
    );
  }

  /**
   * E-mails an open invoice again as dunning step `step`'s reminder: its own key per step, so a resumed step does not
   * send it twice and the next step is not a replay of this one.
   */
  sendReminder(invoiceId: string, stripeInvoiceId: string, step: number): Promise<RemoteInvoice> {
    return this.callForInvoice((stripe) =>
      stripe.invoices.sendInvoice(stripeInvoiceId, {}, { idempotencyKey: invoiceReminderKey(invoiceId, step) }),
    );
  }

  /** Marks an open invoice uncollectible; one that already is counts as marked. */
  async markUncollectible(invoiceId: string, stripeInvoiceId: string): Promise<RemoteInvoice> {
    try {
      return await this.callForInvoice((stripe) =>
        stripe.invoices.markUncollectible(stripeInvoiceId, {}, { idempotencyKey: invoiceUncollectibleKey(invoiceId) }),
      );
    } catch (error) {
      return this.settledUnless(error, stripeInvoiceId, (invoice) => invoice.status === 'uncollectible');
    }
  }

  /** When Stripe e-mailed the invoice, from its `invoice.sent` events created since `since`; null if none. */
  invoiceSentAt(stripeInvoiceId: string, since: Date): Promise<Date | null> {
    return invoiceSentAt(this.caller, stripeInvoiceId, since);
  }

  /** Voiding an invoice that is already void succeeds; any other status is an `invalid_state` error. */
  async voidInvoice(invoiceId: string, stripeInvoiceId: string): Promise<RemoteInvoice> {
    try {
      return await this.callForInvoice(
        (stripe) => stripe.invoices.voidInvoice(stripeInvoiceId, {}, { idempotencyKey: invoiceVoidKey(invoiceId) }),
        invoiceId,
      );
    } catch (error) {
      return this.settledUnless(error, stripeInvoiceId, (invoice) => invoice.status === 'void');
    }
  }

  /** Stripe ignores idempotency keys on DELETE; a draft that is already gone counts as deleted. */
  async deleteDraftInvoice(stripeInvoiceId: string): Promise<void> {
    try {
      await this.call((stripe) => stripe.invoices.del(stripeInvoiceId));
    } catch (error) {
      if (!failedWith(error, 'not_found')) {
        throw error;
      }
    }
  }

  retrieveInvoice(stripeInvoiceId: string): Promise<RemoteInvoice> {
    return this.callForInvoice((stripe) => stripe.invoices.retrieve(stripeInvoiceId, { expand: INVOICE_EXPAND }));
  }

  /**
   * The invoice with each payment's PaymentIntent expanded: whether a payment is in progress (`processing`,
   * `requires_action`…) is known only from the PaymentIntent since API 2026-10-28 (the invoice no longer links it).
   */
  retrieveInvoiceWithPaymentIntents(stripeInvoiceId: string): Promise<RemoteInvoice> {
    return this.callForInvoice((stripe) =>
      stripe.invoices.retrieve(stripeInvoiceId, {
        expand: [...INVOICE_EXPAND, 'payments.data.payment.payment_intent'],
      }),
    );
  }

  /** Crash recovery when we never stored the Stripe id: matches `metadata.agenthub_invoice_id`. */
  findInvoiceByOurId(invoiceId: string, stripeCustomerId: string): Promise<RemoteInvoice | null> {
    return findInvoiceByOurId(this.caller, invoiceId, stripeCustomerId);
  }

  /** Events created at or after `since`, oldest first, all pages. */
  listEventsSince(since: Date, types?: string[]): Promise<ListedEvent[]> {
    return listEventsSince(this.caller, since, types);
  }

  /**
   * A credit note on a Stripe invoice (with `refundMinor` refunded to the card of a paid one), keyed by our row id;
   * `resume`: an earlier attempt may have made it, so it is looked for first.
   */
  createCreditNote(input: CreateCreditNoteInput, resume = false): Promise<RemoteCreditNote> {
    return createCreditNote(this.caller, input, resume);
  }

  /** Every credit note of a Stripe invoice (reconciliation). */
  listCreditNotes(stripeInvoiceId: string): Promise<RemoteCreditNote[]> {
    return listCreditNotes(this.caller, stripeInvoiceId);
  }

  /** Pays the invoice unless its total differs from ours (`total_mismatch`: nothing is charged). */
  async payInvoice(input: PayInvoiceInput): Promise<PayInvoiceResult> {
    const idempotencyKey = invoicePayKey(input.invoiceId, input.attempt);
    try {
      const mismatch = totalMismatch(await this.retrieveInvoice(input.stripeInvoiceId), input.expected);
      if (mismatch) {
        return { outcome: 'total_mismatch', mismatch };
      }
      const invoice = await this.callForInvoice(
        (stripe) =>
          stripe.invoices.pay(
            input.stripeInvoiceId,
            {
              payment_method: input.paymentMethodId,
              ...(input.offSession ? { off_session: true } : {}),
              expand: ['payments'],
            },
            { idempotencyKey },
          ),
        input.invoiceId,
      );
      if (invoice.status === 'paid') {
        return { outcome: 'paid', invoice };
      }
      // A 200 that is not `paid` means an asynchronous payment is still processing: the webhook settles it.
      return { outcome: 'unknown', message: `Payment is processing (invoice status ${invoice.status})` };
    } catch (error) {
      if (!(error instanceof StripeGatewayError)) {
        throw error;
      }
      return payFailureResult(error, () => this.retrieveInvoice(input.stripeInvoiceId));
    }
  }

  /** After an `invalid_state` failure: the current invoice when `done` says the action already happened. */
  private async settledUnless(
    error: unknown,
    stripeInvoiceId: string,
    done: (invoice: RemoteInvoice) => boolean,
  ): Promise<RemoteInvoice> {
    if (failedWith(error, 'invalid_state')) {
      const invoice = await this.retrieveInvoice(stripeInvoiceId);
      if (done(invoice)) {
        return invoice;
      }
    }
    throw error;
  }
}
