import type { CreditNote, CreditNoteLineData, Invoice } from '../../entities';
import { CreditNoteKind, CreditNoteStatus, InvoiceStatus, Role } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import type { InvoiceDeps } from '../invoicing/invoice-deps';
import { findAccessibleInvoice } from '../invoicing/get-invoices.service';
import { BadInputError } from '../shared/errors';
import { formatMoney } from '../shared/money';
import { checkAmount, checkReason, checkRequestKey } from './credit-note-input';
import { creditableMinor } from './credit-note-ledger';
import { issueCreditNote } from './issue-credit-note';
import type { CreditNoteOutcome, CreditNoteRefusal } from './issue-credit-note';

/** Statuses in which an invoice still asks for money and no payment is under way. */
const CREDITABLE: readonly InvoiceStatus[] = [
  InvoiceStatus.OPEN,
  InvoiceStatus.PAYMENT_FAILED,
  InvoiceStatus.UNCOLLECTIBLE,
];

export interface CreditNoteLineInput {
  invoiceLineId: string;
  amountMinor: bigint;
}

/**
 * Lowers what an unpaid invoice asks (admin or service): a Stripe pre-payment credit note, by some of the invoice's
 * lines or by an amount, never more than is still due (nor more than a line's amount, less earlier credits on it).
 * Usage stays billed on the invoice; a credit for all that is due makes Stripe mark the invoice paid, which reaches
 * us by webhook (amount paid: nothing).
 */
export async function createCreditNote(
  deps: InvoiceDeps,
  caller: Caller,
  input: {
    invoiceId: string;
    lines?: CreditNoteLineInput[] | null;
    amountMinor?: bigint | null;
    reason?: string | null;
    idempotencyKey: string | null;
  },
): Promise<CreditNoteOutcome> {
  requireRole(caller, Role.ADMIN, Role.SERVICE);
  const reason = checkReason(input.reason);
  const requestKey = checkRequestKey(input.idempotencyKey);
  const byLines = input.lines ?? [];
  if (byLines.length > 0 === (input.amountMinor !== undefined && input.amountMinor !== null)) {
    throw new BadInputError('Give either lines or amount', byLines.length > 0 ? 'amount' : 'lines');
  }
  if (byLines.length > 100) {
    throw new BadInputError('At most 100 lines', 'lines');
  }
  byLines.forEach((l, i) => checkAmount(l.amountMinor, `lines[${i}].amount`));
  if (input.amountMinor !== undefined && input.amountMinor !== null) {
    checkAmount(input.amountMinor);
  }
  const found = await findAccessibleInvoice(deps.em.fork(), caller, input.invoiceId);
  const invoiceLines = new Map(found.lines.getItems().map((l) => [l.id, l]));
  for (const [i, l] of byLines.entries()) {
    if (!invoiceLines.has(l.invoiceLineId)) {
      throw new BadInputError(`lines[${i}].invoiceLineId is not a line of this invoice`, `lines[${i}].invoiceLineId`);
    }
  }
  return issueCreditNote(deps, caller, {
    invoiceId: input.invoiceId,
    kind: CreditNoteKind.CREDIT,
    reason,
    requestKey,
    requestedMinor: input.amountMinor ?? byLines.reduce((sum, l) => sum + l.amountMinor, 0n),
    plan: (invoice, notes) => {
      if (!CREDITABLE.includes(invoice.status)) {
        return {
          kind: 'invalid_state',
          status: invoice.status,
          message: `A credit note lowers what an unpaid invoice asks; this invoice is ${invoice.status}`,
        };
      }
      const lines: CreditNoteLineData[] = [];
      for (const l of byLines) {
        const line = invoiceLines.get(l.invoiceLineId)!;
        const left = line.amountMinor - creditedOnLine(notes, line.id);
        if (l.amountMinor > left) {
          return refused(
            invoice,
            left,
            `At most ${formatMoney(left, invoice.currency)} of line "${line.description}" can be credited`,
          );
        }
        lines.push({ description: line.description, amountMinor: l.amountMinor.toString(), invoiceLineId: line.id });
      }
      if (lines.length === 0) {
        const amount = input.amountMinor as bigint;
        lines.push({
          description: reason ?? `Credit on ${invoice.number}`,
          amountMinor: amount.toString(),
          invoiceLineId: null,
        });
      }
      const amountMinor = lines.reduce((sum, l) => sum + BigInt(l.amountMinor), 0n);
      const due = creditableMinor(invoice);
      if (amountMinor > due) {
        return refused(invoice, due, `At most ${formatMoney(due, invoice.currency)} is still due`);
      }
      return { lines, amountMinor };
    },
  });
}

function refused(invoice: Invoice, availableMinor: bigint, message: string): CreditNoteRefusal {
  return { kind: 'invalid_amount', availableMinor, currency: invoice.currency, message };
}

function creditedOnLine(notes: CreditNote[], lineId: string): bigint {
  let sum = 0n;
  for (const note of notes) {
    if (note.status === CreditNoteStatus.PENDING || note.status === CreditNoteStatus.ISSUED) {
      for (const l of note.lines) {
        if (l.invoiceLineId === lineId) {
          sum += BigInt(l.amountMinor);
        }
      }
    }
  }
  return sum;
}
