import { LockMode } from '@mikro-orm/core';
import { Customer, Invoice, InvoiceLine } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import { TotalMismatchError } from '../../stripe';
import type { RemoteInvoice, TotalMismatch } from '../../stripe';
import type { Caller } from '../customers/caller';
import type { InvoiceDeps } from './invoice-deps';
import { planItems, stripeItemOf } from './invoice-items-plan';
import { transitionInvoice } from './invoice-status';
import { withdrawStripeInvoice } from './withdraw-stripe-invoice';
import { applyStripeStatus } from '../stripe-events/apply-stripe-status';
import { NotFoundError, quote } from '../shared/errors';

export type PublishOutcome =
  /** OPEN (or further, a webhook may have moved it); `remote` is the finalized Stripe invoice, its total checked. */
  | { kind: 'published'; invoice: Invoice; remote: RemoteInvoice }
  /** cancelInvoice voided the DRAFT meanwhile: Stripe holds nothing payable for it. */
  | { kind: 'cancelled'; invoice: Invoice }
  /** Stripe's invoice does not total ours and could not be put right as a draft: nothing was made payable. */
  | { kind: 'total_mismatch'; invoice: Invoice; mismatch: TotalMismatch };

/**
 * Step 2 of createInvoice, resumable: Stripe customer → Stripe invoice → one item per line → finalize → OPEN (step 3,
 * the e-mail, is `sendInvoice`). Each Stripe id is stored as soon as it exists, and every write carries an
 * idempotency key derived from our ids.
 *
 * Stripe forgets a key after 24 hours, so a key is the first guard only. The first attempt marks the row
 * (`publishStartedAt`, and the customer's `stripeCreateRequestedAt`) before its first write; a later attempt on a
 * marked row first looks for what an earlier one made and never stored (the customer and the invoice by our ids in
 * their metadata, the items by `agenthub_line_id`), adopts it, removes from the draft what is not exactly our lines,
 * and only then creates what is missing. The draft is finalized only when its total is ours (the gateway checks);
 * if it is not, its items are put right once more and checked again.
 *
 * cancelInvoice may void the DRAFT meanwhile (it withdraws the Stripe invoice the row names, then commits VOID only
 * if the row still names that one). So this sequence re-reads the row before every Stripe write and stops once it
 * is VOID; it links a new Stripe invoice to the row only under the row lock and only if the row is not VOID, and
 * otherwise deletes that Stripe draft itself. A write racing the cancel's withdrawal (a finalize against its delete)
 * is settled by the cancel, which reads the invoice again on Stripe's refusal; the row turns VOID only after that. So
 * Stripe never keeps a payable invoice for a VOID row, and the usage the cancel releases is billed nowhere else.
 */
export async function publishDraft(deps: InvoiceDeps, invoiceId: string, caller: Caller): Promise<PublishOutcome> {
  const { gateway } = deps;
  const invoice = await deps.em.fork().findOneOrFail(Invoice, invoiceId, { populate: ['customer'] });
  const resumed = !!invoice.publishStartedAt;

  /**
   * Writes `link` on the row unless it is VOID (cancelled), or only checks that it is not; false when it is. One
   * statement each, in a transaction of its own: the UPDATE (or the SELECT … FOR UPDATE) waits for a cancel that
   * holds the row and then sees its outcome, as a transaction around a locked read would, in one round trip instead
   * of four (a billing run makes five of these per invoice).
   */
  const unlessVoid = async (link?: { publishStarted?: true; stripeInvoiceId?: string; stripeCustomerId?: string }) => {
    const em = deps.em.fork();
    if (!link) {
      const rows = await em.execute<Array<{ status: InvoiceStatus }>>(
        'select status from invoices where id = ? for update',
        [invoiceId],
      );
      if (rows.length === 0) {
        throw new NotFoundError(`Invoice ${quote(invoiceId)}`);
      }
      return rows[0].status !== InvoiceStatus.VOID;
    }
    const at = new Date();
    const rows = await em.execute<Array<{ id: string }>>(
      `update invoices set updated_at = ?,
         publish_started_at = case when ? then coalesce(publish_started_at, ?) else publish_started_at end,
         stripe_invoice_id = coalesce(?, stripe_invoice_id), stripe_customer_id = coalesce(?, stripe_customer_id)
       where id = ? and status <> ? returning id`,
      [
        at,
        link.publishStarted === true,
        at,
        link.stripeInvoiceId ?? null,
        link.stripeCustomerId ?? null,
        invoiceId,
        InvoiceStatus.VOID,
      ],
    );
    return rows.length > 0;
  };
  const cancelled = async (stripeInvoiceId: string | null): Promise<PublishOutcome> => {
    if (stripeInvoiceId) {
      // The cancel withdrew every Stripe invoice the row named; this covers one it never saw. Best effort: a draft
      // left behind (Stripe down) is never finalized (auto_advance off) and reconciliation reports it.
      await withdrawStripeInvoice(gateway, invoiceId, stripeInvoiceId).catch(() => undefined);
    }
    return { kind: 'cancelled', invoice: await current(deps, invoiceId) };
  };

  // The mark goes in before the first Stripe write of the first attempt.
  if (!(await unlessVoid({ publishStarted: true }))) {
    return cancelled(null);
  }
  const stripeCustomerId = invoice.stripeCustomerId ?? (await ensureStripeCustomer(deps, invoice.customer.id));
  let stripeInvoiceId = invoice.stripeInvoiceId ?? null;
  // Items can be on the draft only if it existed before this attempt.
  let look = resumed;
  if (!stripeInvoiceId) {
    if (!(await unlessVoid())) {
      return cancelled(null);
    }
    const found = resumed ? await gateway.findInvoiceByOurId(invoice.id, stripeCustomerId) : null;
    const created =
      found && found.status !== 'void'
        ? found
        : await gateway.createInvoice({
            invoiceId: invoice.id,
            number: invoice.number,
            stripeCustomerId,
            currency: invoice.currency,
            daysUntilDue: deps.config.billing.invoiceDueDays,
            period: invoice.period,
          });
    const linked = await unlessVoid({ stripeInvoiceId: created.id, stripeCustomerId });
    if (!linked) {
      return cancelled(created.id);
    }
    stripeInvoiceId = created.id;
    look = created === found;
  }

  let remote: RemoteInvoice | null = null;
  // Round 0 attaches the lines (looking first on a resume); round 1, after the check found another total on the
  // draft, puts its items right once more.
  for (let round = 0; !remote; round += 1) {
    const attached = await attachLines(deps, {
      invoiceId,
      stripeInvoiceId,
      stripeCustomerId,
      look: look || round > 0,
      stillOpen: () => unlessVoid(),
    });
    if (!attached || !(await unlessVoid())) {
      return cancelled(stripeInvoiceId);
    }
    try {
      remote = await gateway.finalizeInvoice(invoice.id, stripeInvoiceId, invoice);
    } catch (error) {
      if (!(error instanceof TotalMismatchError)) {
        throw error;
      }
      if (error.mismatch.stripeStatus !== 'draft' || round > 0) {
        return { kind: 'total_mismatch', invoice: await current(deps, invoiceId), mismatch: error.mismatch };
      }
    }
  }
  const finalized = remote;

  const opened = await deps.em.fork().transactional(async (tem) => {
    const locked = await tem.findOneOrFail(Invoice, invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer'],
    });
    if (locked.status === InvoiceStatus.VOID) {
      return null;
    }
    locked.paymentUrl = finalized.hostedInvoiceUrl ?? locked.paymentUrl ?? null;
    locked.pdfUrl = finalized.pdfUrl ?? locked.pdfUrl ?? null;
    locked.dueDate = finalized.dueDate ?? locked.dueDate ?? null;
    locked.stripePaymentIntentId = finalized.paymentIntentId ?? locked.stripePaymentIntentId ?? null;
    const cause = { source: StatusChangeSource.API, ref: caller.userId };
    if (locked.status === InvoiceStatus.DRAFT) {
      // A webhook (invoice.finalized) may have opened it already; then this is a no-op.
      await transitionInvoice(tem, locked, InvoiceStatus.OPEN, { ...cause, reason: 'finalized' });
    }
    if (finalized.status === 'paid') {
      // Stripe settled it as it finalized it: nothing was due (0), or less than the currency's minimum charge, which
      // Stripe does not charge but carries to the customer's balance, due with their next invoice
      // (https://docs.stripe.com/billing/customer/balance). PAID now, with what was paid (0), not OPEN until a webhook.
      await applyStripeStatus(tem, locked, finalized, {
        ...cause,
        reason:
          finalized.amountDueMinor === 0n && finalized.totalMinor > 0n
            ? 'below the minimum charge: carried to the customer balance in Stripe'
            : 'nothing due',
      });
      // What Stripe collected (0 here), as the `invoice.paid` webhook would record it.
      locked.amountPaidMinor = finalized.amountPaidMinor;
    }
    await tem.flush();
    return locked;
  });
  return opened ? { kind: 'published', invoice: opened, remote: finalized } : cancelled(stripeInvoiceId);
}

function current(deps: InvoiceDeps, invoiceId: string): Promise<Invoice> {
  return deps.em.fork().findOneOrFail(Invoice, invoiceId, { populate: ['customer'] });
}

/**
 * The customer's Stripe customer, made once. The first attempt marks the row before it asks Stripe; a marked row
 * without a Stripe id means an earlier attempt's answer was lost, so Stripe is searched (our id is in the metadata)
 * before a customer is created.
 */
async function ensureStripeCustomer(deps: InvoiceDeps, customerId: string): Promise<string> {
  const em = deps.em.fork();
  const customer = await em.findOneOrFail(Customer, customerId);
  if (customer.stripeCustomerId) {
    return customer.stripeCustomerId;
  }
  const earlier = customer.stripeCreateRequestedAt;
  if (!earlier) {
    customer.stripeCreateRequestedAt = new Date();
    await em.flush();
  }
  const stripeCustomerId =
    (earlier ? await deps.gateway.findCustomerByOurId(customer.id) : null) ??
    (await deps.gateway.createCustomer({
      customerId: customer.id,
      externalUserId: customer.externalUserId,
      email: customer.email ?? undefined,
      name: customer.name ?? undefined,
    }));
  customer.stripeCustomerId = stripeCustomerId;
  await em.flush();
  return stripeCustomerId;
}

/**
 * Puts our lines on the Stripe draft, one item each, storing every item id as soon as it exists. With `look`, the
 * draft's items are listed first (`planItems`): items of ours whose ids were never stored are adopted, anything
 * that is not exactly our lines is removed, and only the lines still missing are added. False when the invoice was
 * cancelled meanwhile (`stillOpen` is asked before every Stripe write).
 */
async function attachLines(
  deps: InvoiceDeps,
  input: {
    invoiceId: string;
    stripeInvoiceId: string;
    stripeCustomerId: string;
    look: boolean;
    stillOpen: () => Promise<boolean>;
  },
): Promise<boolean> {
  const { gateway } = deps;
  const em = deps.em.fork();
  const lines = await em.find(InvoiceLine, { invoice: input.invoiceId }, { orderBy: { position: 'asc' } });
  const storeItemId = (lineId: string, itemId: string | null) =>
    em.fork().nativeUpdate(InvoiceLine, { id: lineId }, { stripeInvoiceItemId: itemId });

  let plan = {
    adopt: [] as Array<{ lineId: string; itemId: string }>,
    remove: [] as string[],
    add: lines.filter((l) => !l.stripeInvoiceItemId).map((l) => ({ lineId: l.id, replaces: null as string | null })),
  };
  if (input.look) {
    plan = planItems(input.invoiceId, lines, await gateway.listInvoiceItems(input.stripeInvoiceId));
  }
  for (const itemId of plan.remove) {
    if (!(await input.stillOpen())) {
      return false;
    }
    await gateway.deleteInvoiceItem(itemId);
  }
  for (const { lineId, itemId } of plan.adopt) {
    await storeItemId(lineId, itemId);
  }
  for (const { lineId, replaces } of plan.add) {
    const line = lines.find((l) => l.id === lineId) as InvoiceLine;
    if (!(await input.stillOpen())) {
      return false;
    }
    const shape = stripeItemOf({
      description: line.description,
      quantity: line.quantity,
      billableQuantity: billableQuantityOf(line),
      unitAmount: line.unitAmount ?? null,
      amountMinor: line.amountMinor,
      currency: line.currency,
    });
    const itemId = await gateway.addInvoiceItem({
      invoiceId: input.invoiceId,
      lineId,
      stripeCustomerId: input.stripeCustomerId,
      stripeInvoiceId: input.stripeInvoiceId,
      amountMinor: line.amountMinor,
      pricing: shape.pricing,
      currency: line.currency,
      description: shape.description,
      replaces,
    });
    await storeItemId(lineId, itemId);
  }
  return true;
}

/**
 * The billable part of a line's quantity, stored with the line when it was priced; null on a line without it and on
 * an unpriced line (shown at zero: nothing of it was free).
 */
function billableQuantityOf(line: InvoiceLine): string | null {
  if (line.metadata?.unpriced === true) {
    return null;
  }
  const value = line.metadata?.billableQuantity;
  return typeof value === 'string' ? value : null;
}
