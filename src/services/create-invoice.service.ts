import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppConfig } from '../config/config';
import { Customer, Invoice, InvoiceLine } from '../entities';
import { InvoiceStatus, StatusChangeSource } from '../entities/enums';
import type { StripeGateway } from '../stripe';
import { StripeGatewayError } from '../stripe';
import type { BillingPeriod } from './billing-period';
import { parsePeriod } from './billing-period';
import type { Caller } from './caller';
import { resolveSubject } from './caller';
import { NotFoundError } from './errors';
import { getCurrentCustomer } from './get-current-customer.service';
import { followStripeInvoice } from './apply-stripe-status';
import { computeInvoiceLines } from './invoice-lines';
import { recordCreation, transitionInvoice } from './invoice-status';
import { formatInvoiceNumber } from './invoice-number';
import { owesSend, sendInvoice } from './send-invoice.service';
import { withdrawStripeInvoice } from './withdraw-stripe-invoice';

export interface InvoiceDeps {
  em: EntityManager;
  gateway: StripeGateway;
  config: Pick<AppConfig, 'billing'>;
  now?: Date;
}

export type CreateInvoiceOutcome =
  | { kind: 'invoice'; invoice: Invoice }
  | { kind: 'no_usage'; period: string }
  | { kind: 'period_not_ended'; period: string }
  /** cancelInvoice voided the DRAFT while it was being published: nothing payable was left in Stripe. */
  | { kind: 'cancelled'; invoice: Invoice; message: string }
  | { kind: 'stripe_unavailable'; invoice: Invoice; message: string };

const CANCELLED_MESSAGE =
  'The invoice was cancelled while it was being created; Stripe holds nothing payable for it and its usage is ' +
  'unbilled again (call createInvoice again to bill it)';

/**
 * Creates (or returns, or resumes) the invoice of a customer for an ended period. Idempotent: while a non-VOID
 * invoice exists for the customer and period it is returned; a DRAFT left by a crash or a Stripe failure is resumed
 * from where it stopped, and so is an open invoice whose e-mail was never sent (AUTO_SEND_INVOICES). Every Stripe
 * write carries a deterministic idempotency key, so resuming never makes a second Stripe customer, invoice or item.
 * An invoice cancelled while this runs stops it (`cancelled`).
 */
export async function createInvoice(
  deps: InvoiceDeps,
  caller: Caller,
  input: { period: string; userId?: string | null },
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
    throw new NotFoundError(`Customer "${userId}"`);
  }

  const draft = await createDraft(deps, customer, period, caller, now);
  if (draft.kind !== 'invoice') {
    return draft;
  }
  let invoice = draft.invoice;
  if (invoice.status !== InvoiceStatus.DRAFT && !owesSend(invoice, deps.config)) {
    return draft;
  }
  try {
    if (invoice.status === InvoiceStatus.DRAFT) {
      const published = await publishDraft(deps, invoice.id, caller);
      if (published.kind !== 'invoice') {
        return published;
      }
      invoice = published.invoice;
    }
    // Last step, also resumed on an invoice a webhook opened while our send failed: decided from `sentAt`.
    const sent = await sendInvoice(deps, invoice.id);
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
    if (!(error instanceof StripeGatewayError)) {
      throw error;
    }
    // A cancel that withdrew the Stripe invoice under us makes our next Stripe write fail (not found, not editable):
    // the cancel is the outcome, not the failure.
    const current = await deps.em.fork().findOneOrFail(Invoice, invoice.id, { populate: ['customer'] });
    if (current.status === InvoiceStatus.VOID) {
      return { kind: 'cancelled', invoice: current, message: CANCELLED_MESSAGE };
    }
    if (['unavailable', 'rate_limited'].includes(error.failure.kind)) {
      return {
        kind: 'stripe_unavailable',
        invoice: current,
        message: 'Stripe is unavailable; call createInvoice again to resume',
      };
    }
    throw error;
  }
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
  caller: Caller,
  now: Date,
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
        const [{ last_value: sequence }] = await tem.execute<Array<{ last_value: number }>>(
          `insert into invoice_number_sequences (prefix, period, last_value) values (?, ?, 1)
           on conflict (prefix, period) do update set last_value = invoice_number_sequences.last_value + 1
           returning last_value`,
          [prefix, period.key],
        );
        const invoice = tem.create(Invoice, {
          number: formatInvoiceNumber(prefix, period.key, sequence, now),
          customer: tem.getReference(Customer, customer.id),
          period: period.key,
          periodStart: period.start,
          periodEnd: period.end,
          status: InvoiceStatus.DRAFT,
          currency,
          stripeCustomerId: customer.stripeCustomerId ?? null,
        });
        await tem.flush();
        await tem.execute(
          `update usage_records set billed_on_invoice_id = ?
           where customer_id = ? and billed_on_invoice_id is null
             and ((occurred_at >= ? and occurred_at < ?)
               or exists (select 1 from invoices i
                          where i.customer_id = usage_records.customer_id and i.status <> 'VOID' and i.id <> ?
                            and i.period_end <= ?
                            and usage_records.occurred_at >= i.period_start
                            and usage_records.occurred_at < i.period_end))`,
          [invoice.id, customer.id, period.start, period.end, invoice.id, period.start],
        );
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
        recordCreation(tem, invoice, { source: StatusChangeSource.API, ref: caller.userId, at: now });
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

/**
 * Step 2, resumable: Stripe customer → Stripe invoice → one item per line → finalize → OPEN (then step 3, the e-mail,
 * is `sendInvoice`). Each Stripe id is stored as soon as it exists, and every write's idempotency key is derived from
 * our ids, so a retry after a crash anywhere in here repeats nothing.
 *
 * cancelInvoice may void the DRAFT meanwhile (it withdraws the Stripe invoice the row names, then commits VOID only
 * if the row still names that one). So this sequence re-reads the row before every Stripe write and stops once it
 * is VOID; it links a new Stripe invoice to the row only under the row lock and only if the row is not VOID, and
 * otherwise deletes that Stripe draft itself. A write racing the cancel's withdrawal (a finalize against its delete)
 * is settled by the cancel, which reads the invoice again on Stripe's refusal; the row turns VOID only after that. So
 * Stripe never keeps a payable invoice for a VOID row, and the usage the cancel releases is billed nowhere else.
 */
async function publishDraft(deps: InvoiceDeps, invoiceId: string, caller: Caller): Promise<CreateInvoiceOutcome> {
  const em = deps.em.fork();
  const { gateway } = deps;
  const invoice = await em.findOneOrFail(Invoice, invoiceId, { populate: ['customer', 'lines'] });
  const customer = invoice.customer;

  /** Runs `link` on the locked row unless it is VOID (cancelled); false when it is. */
  const unlessVoid = (link?: (tem: EntityManager, locked: Invoice) => Promise<void> | void): Promise<boolean> =>
    deps.em.fork().transactional(async (tem) => {
      const locked = await tem.findOneOrFail(Invoice, invoiceId, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (locked.status === InvoiceStatus.VOID) {
        return false;
      }
      await link?.(tem, locked);
      await tem.flush();
      return true;
    });
  const cancelled = async (stripeInvoiceId: string | null): Promise<CreateInvoiceOutcome> => {
    if (stripeInvoiceId) {
      // The cancel withdrew every Stripe invoice the row named; this covers one it never saw. Best effort: a draft
      // left behind (Stripe down) is never finalized (auto_advance off) and reconciliation reports it.
      await withdrawStripeInvoice(gateway, invoiceId, stripeInvoiceId).catch(() => undefined);
    }
    const current = await deps.em.fork().findOneOrFail(Invoice, invoiceId, { populate: ['customer'] });
    return { kind: 'cancelled', invoice: current, message: CANCELLED_MESSAGE };
  };

  if (!customer.stripeCustomerId) {
    if (!(await unlessVoid())) {
      return cancelled(null);
    }
    customer.stripeCustomerId = await gateway.createCustomer({
      customerId: customer.id,
      externalUserId: customer.externalUserId,
      email: customer.email ?? undefined,
      name: customer.name ?? undefined,
    });
    await em.flush();
  }
  const stripeCustomerId = customer.stripeCustomerId;
  let stripeInvoiceId = invoice.stripeInvoiceId ?? null;
  if (!stripeInvoiceId) {
    if (!(await unlessVoid())) {
      return cancelled(null);
    }
    const created = await gateway.createInvoice({
      invoiceId: invoice.id,
      number: invoice.number,
      stripeCustomerId,
      currency: invoice.currency,
      daysUntilDue: deps.config.billing.invoiceDueDays,
      period: invoice.period,
    });
    const linked = await unlessVoid((_tem, locked) => {
      locked.stripeInvoiceId = created.id;
      locked.stripeCustomerId = stripeCustomerId;
    });
    if (!linked) {
      return cancelled(created.id);
    }
    stripeInvoiceId = created.id;
  }
  for (const line of invoice.lines.getItems()) {
    if (!line.stripeInvoiceItemId) {
      if (!(await unlessVoid())) {
        return cancelled(stripeInvoiceId);
      }
      const itemId = await gateway.addInvoiceItem({
        invoiceId: invoice.id,
        lineId: line.id,
        stripeCustomerId,
        stripeInvoiceId,
        amountMinor: line.amountMinor,
        currency: invoice.currency,
        description: line.description,
      });
      const stored = await unlessVoid(async (tem) => {
        await tem.nativeUpdate(InvoiceLine, { id: line.id }, { stripeInvoiceItemId: itemId });
      });
      if (!stored) {
        return cancelled(stripeInvoiceId);
      }
    }
  }
  let stripeInvoice = await gateway.retrieveInvoice(stripeInvoiceId);
  if (stripeInvoice.status === 'draft') {
    if (!(await unlessVoid())) {
      return cancelled(stripeInvoiceId);
    }
    stripeInvoice = await gateway.finalizeInvoice(invoice.id, stripeInvoiceId);
  }

  const opened = await deps.em.fork().transactional(async (tem) => {
    const locked = await tem.findOneOrFail(Invoice, invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer'],
    });
    if (locked.status === InvoiceStatus.VOID) {
      return null;
    }
    locked.paymentUrl = stripeInvoice.hosted_invoice_url ?? locked.paymentUrl ?? null;
    locked.pdfUrl = stripeInvoice.invoice_pdf ?? locked.pdfUrl ?? null;
    locked.dueDate = stripeInvoice.due_date ? new Date(stripeInvoice.due_date * 1000) : (locked.dueDate ?? null);
    if (locked.status === InvoiceStatus.DRAFT) {
      // A webhook (invoice.finalized) may have opened it already; then this is a no-op.
      await transitionInvoice(tem, locked, InvoiceStatus.OPEN, {
        source: StatusChangeSource.API,
        ref: caller.userId,
        reason: 'finalized',
      });
    }
    await tem.flush();
    return locked;
  });
  return opened ? { kind: 'invoice', invoice: opened } : cancelled(stripeInvoiceId);
}
