import Stripe from 'stripe';
import type { Emulator } from './context';
import { invalidState, paramInvalid, paramMissing, resourceMissing } from './errors';
import type { FormObject, FormValue } from './form';
import { getInvoice, internalsOf } from './invoice-model';
import { int, oneOf, str } from './params';
import { checkRefund } from './refunds';
import { formatMoney, newId } from './util';

/**
 * Credit notes, planned from the request before anything changes: lines (of the invoice, or custom) or an amount;
 * on an open invoice a `pre_payment` note lowers what is due, on a paid one a `post_payment` note is refunded
 * (`refund_amount`, a new refund on the invoice's charge; `refunds[]`, refunds made before), credited to the
 * customer's balance (`credit_amount`, the default) or settled outside Stripe (`out_of_band_amount`).
 */

export const CREDIT_NOTE_REASONS = ['duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory'] as const;

export interface CreditNotePlan {
  invoice: Stripe.Invoice;
  type: 'pre_payment' | 'post_payment';
  total: number;
  lines: Stripe.CreditNoteLineItem[];
  refundAmount: number;
  /** The invoice's charge, when `refund_amount` refunds part of it. */
  charge: Stripe.Charge | null;
  linkedRefunds: Array<{ refund: Stripe.Refund; amount: number }>;
  creditAmount: number;
  outOfBand: number;
  reason: Stripe.CreditNote.Reason | null;
  memo: string | null;
}

function objects(v: FormValue | undefined, name: string): FormObject[] {
  if (v === undefined) {
    return [];
  }
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'object' && !Array.isArray(x))) {
    throw paramInvalid(name, `Invalid array: ${name} must be a list of hashes`);
  }
  return list as FormObject[];
}

/** What earlier issued notes credited on an invoice line. */
function creditedOnLine(emu: Emulator, lineId: string): number {
  let sum = 0;
  for (const cn of emu.state.creditNotes.values()) {
    if (cn.status === 'issued') {
      sum += cn.lines.data.filter((l) => l.invoice_line_item === lineId).reduce((s, l) => s + l.amount, 0);
    }
  }
  return sum;
}

function planLine(emu: Emulator, inv: Stripe.Invoice, p: FormObject, i: number): Stripe.CreditNoteLineItem {
  const at = (k: string): string => `lines[${i}][${k}]`;
  const type = oneOf(p, 'type', ['invoice_line_item', 'custom_line_item'] as const);
  if (!type) {
    throw paramMissing(at('type'));
  }
  const quantity = int(p, 'quantity');
  const given = int(p, 'amount');
  let amount: number;
  let unit: number | null = null;
  let lineId: string | undefined;
  let description = str(p, 'description') ?? null;
  if (type === 'invoice_line_item') {
    lineId = str(p, 'invoice_line_item');
    if (!lineId) {
      throw paramMissing(at('invoice_line_item'));
    }
    const line = inv.lines.data.find((l) => l.id === lineId);
    if (!line) {
      throw resourceMissing('invoice line item', lineId, at('invoice_line_item'));
    }
    const lineQuantity = line.quantity ?? 1;
    amount = given ?? (quantity !== undefined ? Math.round((line.amount * quantity) / lineQuantity) : line.amount);
    description ??= line.description;
    const left = line.amount - creditedOnLine(emu, line.id);
    if (amount > left) {
      throw paramInvalid(
        at('amount'),
        `The credit note line amount (${formatMoney(amount, inv.currency)}) exceeds what is left to credit on invoice line ${line.id} (${formatMoney(left, inv.currency)}).`,
      );
    }
  } else {
    unit = int(p, 'unit_amount') ?? null;
    if (unit === null) {
      throw paramMissing(at('unit_amount'));
    }
    amount = unit * (quantity ?? 1);
  }
  if (amount <= 0) {
    throw paramInvalid(at('amount'), 'Invalid positive integer', 'parameter_invalid_integer');
  }
  return {
    id: newId('cnli'),
    object: 'credit_note_line_item',
    amount,
    description,
    discount_amount: 0,
    discount_amounts: [],
    ...(lineId ? { invoice_line_item: lineId } : {}),
    livemode: false,
    metadata: {},
    pretax_credit_amounts: [],
    quantity: quantity ?? 1,
    tax_rates: [],
    taxes: [],
    type,
    unit_amount: unit,
    unit_amount_decimal: unit === null ? null : Stripe.Decimal.from(String(unit)),
  };
}

/** The succeeded charge that paid an invoice, if a card paid it. */
export function chargeOfInvoice(emu: Emulator, inv: Stripe.Invoice): Stripe.Charge | null {
  for (const payment of emu.state.invoicePayments.by('invoice', inv.id)) {
    if (payment.status === 'paid' && payment.payment.payment_intent) {
      const pi = emu.state.paymentIntents.get(payment.payment.payment_intent as string);
      const charge = typeof pi?.latest_charge === 'string' ? emu.state.charges.get(pi.latest_charge) : undefined;
      if (charge?.status === 'succeeded') {
        return charge;
      }
    }
  }
  return null;
}

function allocation(emu: Emulator, p: FormObject, inv: Stripe.Invoice) {
  const refundAmount = int(p, 'refund_amount') ?? 0;
  const creditAmount = int(p, 'credit_amount');
  const outOfBand = int(p, 'out_of_band_amount') ?? 0;
  const charge = chargeOfInvoice(emu, inv);
  const linkedRefunds = objects(p.refunds, 'refunds').map((r, i) => {
    const id = str(r, 'refund');
    const refund = id ? emu.state.refunds.get(id) : undefined;
    if (!id || !refund) {
      throw resourceMissing('refund', id ?? '', `refunds[${i}][refund]`);
    }
    if (!charge || refund.charge !== charge.id) {
      throw invalidState(`The refund ${id} is not a refund of this invoice's payment.`, undefined, `refunds[${i}]`);
    }
    return { refund, amount: int(r, 'amount_refunded') ?? refund.amount };
  });
  if (refundAmount > 0) {
    if (!charge) {
      throw invalidState('This invoice has no payment to refund.', undefined, 'refund_amount');
    }
    checkRefund(charge, refundAmount);
  }
  return { refundAmount, creditAmount, outOfBand, linkedRefunds, charge: refundAmount > 0 ? charge : null };
}

/** Everything a preview or a create needs, checked against the invoice as Stripe does; changes nothing. */
export function planCreditNote(emu: Emulator, p: FormObject): CreditNotePlan {
  const invoiceId = str(p, 'invoice');
  if (!invoiceId) {
    throw paramMissing('invoice');
  }
  const inv = getInvoice(emu, invoiceId, 'invoice');
  if (inv.status === 'draft' || inv.status === 'void') {
    throw invalidState(
      `You can only create credit notes for open, paid or uncollectible invoices; this invoice is ${inv.status}.`,
      'invoice_not_editable',
      'invoice',
    );
  }
  const lines = objects(p.lines, 'lines').map((l, i) => planLine(emu, inv, l, i));
  const amount = int(p, 'amount');
  const linesTotal = lines.reduce((s, l) => s + l.amount, 0);
  if (lines.length > 0 && amount !== undefined && amount !== linesTotal) {
    throw paramInvalid('amount', `The amount (${amount}) must equal the sum of the lines (${linesTotal}).`);
  }
  if (lines.length === 0) {
    if (amount === undefined) {
      throw invalidState(
        'You must pass either `amount` or `lines` to create a credit note.',
        'parameter_missing',
        'amount',
      );
    }
    lines.push(planLine(emu, inv, { type: 'custom_line_item', unit_amount: String(amount) }, 0));
  }
  const total = lines.reduce((s, l) => s + l.amount, 0);
  const type = inv.status === 'paid' ? 'post_payment' : 'pre_payment';
  const a = allocation(emu, p, inv);
  const linked = a.linkedRefunds.reduce((s, r) => s + r.amount, 0);
  const named = a.refundAmount + (a.creditAmount ?? 0) + a.outOfBand + linked;
  if (type === 'pre_payment') {
    if (named > 0) {
      throw invalidState(
        'Refunds and credits apply to paid invoices; this invoice is not paid.',
        undefined,
        'refund_amount',
      );
    }
    if (total > inv.amount_remaining) {
      throw paramInvalid(
        'amount',
        `The credit note amount (${formatMoney(total, inv.currency)}) must be less than or equal to the invoice's amount remaining (${formatMoney(inv.amount_remaining, inv.currency)}).`,
      );
    }
  } else {
    const left = inv.amount_paid - inv.post_payment_credit_notes_amount;
    if (total > left) {
      throw paramInvalid(
        'amount',
        `The credit note amount (${formatMoney(total, inv.currency)}) must be less than or equal to the amount paid not yet credited (${formatMoney(left, inv.currency)}).`,
      );
    }
    // Nothing named: Stripe credits the customer's balance, as the Dashboard does by default.
    if (named !== 0 && named !== total) {
      throw paramInvalid(
        'refund_amount',
        `The sum of refund_amount, credit_amount, out_of_band_amount and refunds (${named}) must equal the credit note amount (${total}).`,
      );
    }
  }
  const creditAmount = type === 'post_payment' && named === 0 ? total : (a.creditAmount ?? 0);
  return {
    invoice: inv,
    type,
    total,
    lines,
    refundAmount: a.refundAmount,
    charge: a.charge,
    linkedRefunds: a.linkedRefunds,
    creditAmount,
    outOfBand: a.outOfBand,
    reason: oneOf(p, 'reason', CREDIT_NOTE_REASONS) ?? null,
    memo: str(p, 'memo') ?? null,
  };
}

/** The credit note a plan makes (not stored): numbered after the invoice, as Stripe does (`…-CN-01`). */
export function buildCreditNote(
  emu: Emulator,
  plan: CreditNotePlan,
  metadata: Record<string, string>,
): Stripe.CreditNote {
  const inv = plan.invoice;
  const id = newId('cn');
  const seq = [...emu.state.creditNotes.by('invoice', inv.id)].length + 1;
  const token = internalsOf(emu, inv.id).token;
  return {
    id,
    object: 'credit_note',
    amount: plan.total,
    amount_shipping: 0,
    created: emu.now(),
    currency: inv.currency,
    customer: inv.customer as string,
    customer_account: null,
    customer_balance_transaction: plan.creditAmount > 0 ? newId('cbtxn') : null,
    discount_amount: 0,
    discount_amounts: [],
    effective_at: emu.now(),
    invoice: inv.id,
    lines: { object: 'list', data: plan.lines, has_more: false, url: `/v1/credit_notes/${id}/lines` },
    livemode: false,
    memo: plan.memo,
    metadata,
    number: `${inv.number ?? inv.id}-CN-${String(seq).padStart(2, '0')}`,
    out_of_band_amount: plan.outOfBand > 0 ? plan.outOfBand : null,
    pdf: `${emu.config.publicBaseUrl ?? ''}/credit_note/${token}/${id}/pdf`,
    post_payment_amount: plan.type === 'post_payment' ? plan.total : 0,
    pre_payment_amount: plan.type === 'pre_payment' ? plan.total : 0,
    pretax_credit_amounts: [],
    reason: plan.reason,
    refunds: plan.linkedRefunds.map((r) => ({
      amount_refunded: r.amount,
      payment_record_refund: null,
      refund: r.refund.id,
      type: 'refund',
    })),
    shipping_cost: null,
    status: 'issued',
    subtotal: plan.total,
    subtotal_excluding_tax: plan.total,
    total: plan.total,
    total_excluding_tax: plan.total,
    total_taxes: [],
    type: plan.type,
    voided_at: null,
  };
}
