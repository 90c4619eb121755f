import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { createCreditNote } from '../services/credit-notes/create-credit-note.service';
import type { CreditNoteOutcome } from '../services/credit-notes/issue-credit-note';
import { refundInvoice } from '../services/credit-notes/refund-invoice.service';
import { getInvoice } from '../services/invoicing/get-invoices.service';
import type { InvoiceDeps } from '../services/invoicing/invoice-deps';
import {
  CreateCreditNoteResult,
  CreditAmountExceeded,
  CreditNoteLineInput,
  CreditNoteRefused,
  InvoiceCreditNote,
  RefundInvoiceResult,
} from '../schema/credit-note-results.types';
import { InvoiceStateError, InvoiceType, PaymentProviderUnavailable } from '../schema/invoice.types';
import type { GraphQLContext } from './context';
import { toInvoice, toMoney } from './mappers';

const deps = (ctx: GraphQLContext): InvoiceDeps => ({
  em: ctx.em,
  gateway: ctx.gateway,
  config: ctx.config,
  now: new Date(ctx.clock.now()),
  log: ctx.log,
});

const KEY =
  'Required: one per intended note (e.g. one per form submission). Repeating a request with the same key answers the ' +
  'same note, never a second; a key reused for another amount is refused.';

const bigOrNull = (n: number | null | undefined): bigint | null => (n === null || n === undefined ? null : BigInt(n));

/** The one GraphQL mapping of a credit note outcome (refunds and credits alike). */
async function present(ctx: GraphQLContext, outcome: CreditNoteOutcome): Promise<typeof RefundInvoiceResult> {
  const invoiceOf = async (id: string): Promise<InvoiceType> =>
    Object.assign(new InvoiceType(), toInvoice(await getInvoice(ctx.em, ctx.caller, id)));
  switch (outcome.kind) {
    case 'issued': {
      const invoice = await invoiceOf(outcome.invoice.id);
      const creditNote = invoice.creditNotes.find((n) => n.id === outcome.creditNote.id);
      return Object.assign(new InvoiceCreditNote(), { invoice, creditNote });
    }
    case 'invalid_state':
      return Object.assign(new InvoiceStateError(), {
        code: 'INVALID_INVOICE_STATE',
        message: outcome.message,
        status: outcome.status,
      });
    case 'invalid_amount':
      return Object.assign(new CreditAmountExceeded(), {
        code: 'CREDIT_AMOUNT_EXCEEDED',
        message: outcome.message,
        available: toMoney(outcome.availableMinor, outcome.currency),
      });
    case 'stripe_refused':
      return Object.assign(new CreditNoteRefused(), {
        code: 'CREDIT_NOTE_REFUSED',
        message: outcome.message,
        invoice: await invoiceOf(outcome.invoice.id),
      });
    default:
      return Object.assign(new PaymentProviderUnavailable(), {
        code: 'PAYMENT_PROVIDER_UNAVAILABLE',
        message: outcome.message,
        invoice: await invoiceOf(outcome.invoice.id),
      });
  }
}

@Resolver()
export class CreditNoteResolver {
  @Mutation(() => RefundInvoiceResult, {
    description:
      "Admins: refunds a paid invoice to the customer's card through a Stripe credit note; all that is left when no " +
      'amount is given. Repeating a call with the same idempotencyKey answers the same refund, never a second.',
  })
  async refundInvoice(
    @Arg('invoiceId', () => ID) invoiceId: string,
    @Arg('amountMinor', () => GraphQLSafeInt, { nullable: true }) amountMinor: number | null,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Arg('idempotencyKey', () => String, { description: KEY }) idempotencyKey: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<typeof RefundInvoiceResult> {
    const outcome = await refundInvoice(deps(ctx), ctx.caller, {
      invoiceId,
      amountMinor: bigOrNull(amountMinor),
      reason,
      idempotencyKey,
    });
    return present(ctx, outcome);
  }

  @Mutation(() => CreateCreditNoteResult, {
    description:
      'Admins and services: lowers what an unpaid invoice asks, by some of its lines or by an amount, through a ' +
      'Stripe credit note.',
  })
  async createCreditNote(
    @Arg('invoiceId', () => ID) invoiceId: string,
    @Arg('lines', () => [CreditNoteLineInput], { nullable: true }) lines: CreditNoteLineInput[] | null,
    @Arg('amountMinor', () => GraphQLSafeInt, { nullable: true }) amountMinor: number | null,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Arg('idempotencyKey', () => String, { description: KEY }) idempotencyKey: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<typeof CreateCreditNoteResult> {
    const outcome = await createCreditNote(deps(ctx), ctx.caller, {
      invoiceId,
      lines: lines?.map((l) => ({ invoiceLineId: l.invoiceLineId, amountMinor: BigInt(l.amountMinor) })) ?? null,
      amountMinor: bigOrNull(amountMinor),
      reason,
      idempotencyKey,
    });
    return present(ctx, outcome);
  }
}
