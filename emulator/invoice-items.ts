import Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { getCustomer } from './customers';
import { invalidState, paramInvalid, paramMissing, resourceMissing, StripeApiError } from './errors';
import { render } from './expand';
import { attachItem, getInvoice, recomputeTotals } from './invoice-model';
import { newestFirst, paginate, listParams } from './list';
import { allowOnly, applyMetadata, bool, int, str } from './params';
import { checkItemAmount, requireCurrency } from './limits';
import { multiplyDecimal, newId, parseDecimalString } from './util';

const CREATE_PARAMS = [
  'amount',
  'currency',
  'customer',
  'customer_account',
  'description',
  'discountable',
  'discounts',
  'expand',
  'invoice',
  'metadata',
  'period',
  'price_data',
  'pricing',
  'quantity',
  'quantity_decimal',
  'subscription',
  'tax_behavior',
  'tax_code',
  'tax_rates',
  'unit_amount_decimal',
] as const satisfies ReadonlyArray<keyof Stripe.InvoiceItemCreateParams>;

const LIST_PARAMS = listParams<Stripe.InvoiceItemListParams>(
  'created',
  'customer',
  'customer_account',
  'invoice',
  'pending',
);

function exclusive(ctx: ApiContext, names: string[]): void {
  const given = names.filter((n) => ctx.params[n] !== undefined);
  if (given.length > 1) {
    throw new StripeApiError(
      400,
      {
        type: 'invalid_request_error',
        code: 'parameters_exclusive',
        message: `You may only specify one of these parameters: ${given.join(', ')}.`,
        param: given[1],
      },
      true,
    );
  }
}

/** A quantity as Stripe takes it: `quantity` (a non-negative integer) or `quantity_decimal` (≤ 12 decimal places). */
function readQuantity(ctx: ApiContext): string {
  const p = ctx.params;
  exclusive(ctx, ['quantity', 'quantity_decimal']);
  const decimal = str(p, 'quantity_decimal');
  if (decimal !== undefined) {
    const parsed = parseDecimalString(decimal);
    if (!parsed) {
      throw paramInvalid('quantity_decimal', `Invalid decimal: ${decimal}`, 'parameter_invalid_decimal');
    }
    if (parsed.value < 0n) {
      throw paramInvalid('quantity_decimal', 'Invalid quantity_decimal: must be non-negative');
    }
    return decimal.trim();
  }
  const quantity = int(p, 'quantity') ?? 1;
  if (quantity < 0) {
    throw paramInvalid('quantity', 'Invalid quantity: must be non-negative');
  }
  return String(quantity);
}

/**
 * Amount in minor units plus the unit amount and quantity that produced it: `amount` alone (quantity 1), or a
 * quantity times `unit_amount_decimal` (or `price_data[unit_amount(_decimal)]`), rounded once per line, half away
 * from zero, as Stripe rounds (30 × 0.05 = 1.5 → 2). Its size may not pass Stripe's maximum charge.
 */
function pricing(ctx: ApiContext, currency: string): { amount: number; unit: string; quantity: string } {
  const p = ctx.params;
  exclusive(ctx, ['amount', 'unit_amount_decimal', 'price_data']);
  const quantity = readQuantity(ctx);
  const amount = int(p, 'amount');
  if (amount !== undefined) {
    if (p.quantity !== undefined || p.quantity_decimal !== undefined) {
      const param = p.quantity !== undefined ? 'quantity' : 'quantity_decimal';
      throw paramInvalid(param, `You cannot pass \`${param}\` with \`amount\`; use \`unit_amount_decimal\` instead.`);
    }
    checkItemAmount(BigInt(amount), currency);
    return { amount, unit: String(amount), quantity };
  }
  let unit = str(p, 'unit_amount_decimal');
  let unitParam = 'unit_amount_decimal';
  const priceData = p.price_data;
  if (priceData && typeof priceData === 'object' && !Array.isArray(priceData)) {
    unit = str(priceData, 'unit_amount_decimal') ?? str(priceData, 'unit_amount');
    unitParam = 'price_data[unit_amount_decimal]';
  }
  if (unit === undefined) {
    throw new StripeApiError(
      400,
      {
        type: 'invalid_request_error',
        code: 'parameter_missing',
        message: 'You must specify either `amount`, `unit_amount_decimal` or `price_data`.',
        param: 'amount',
      },
      true,
    );
  }
  const total = multiplyDecimal(quantity, unit);
  if (total === null) {
    throw paramInvalid(unitParam, `Invalid decimal: ${unit}`, 'parameter_invalid_decimal');
  }
  checkItemAmount(total, currency, unitParam);
  return { amount: Number(total), unit, quantity };
}

function create(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, CREATE_PARAMS);
  const customerId = str(p, 'customer');
  if (!customerId) {
    throw paramMissing('customer');
  }
  const customer = getCustomer(ctx, customerId, 'customer');
  const invoiceId = str(p, 'invoice');
  const invoice = invoiceId ? getInvoice(ctx.emu, invoiceId, 'invoice') : null;
  if (invoice && invoice.status !== 'draft') {
    throw invalidState(
      `Invoice ${invoice.id} is not a draft invoice, and you cannot add invoice items to it.`,
      'invoice_not_editable',
      'invoice',
    );
  }
  if (invoice && invoice.customer !== customer.id) {
    throw invalidState(`The invoice ${invoice.id} belongs to a different customer.`, undefined, 'invoice');
  }
  const currency = requireCurrency(str(p, 'currency') ?? invoice?.currency ?? customer.currency ?? 'usd');
  if (invoice && invoice.currency !== currency) {
    throw invalidState(
      `The currency of the invoice item (${currency}) must match the currency of the invoice (${invoice.currency}).`,
      undefined,
      'currency',
    );
  }
  const { amount, unit, quantity } = pricing(ctx, currency);
  const now = ctx.emu.now();
  const period = p.period;
  const periodStart = period && typeof period === 'object' && !Array.isArray(period) ? int(period, 'start') : undefined;
  const periodEnd = period && typeof period === 'object' && !Array.isArray(period) ? int(period, 'end') : undefined;
  const item: Stripe.InvoiceItem = {
    id: newId('ii'),
    object: 'invoiceitem',
    amount,
    currency,
    customer: customer.id,
    customer_account: null,
    date: now,
    description: str(p, 'description') ?? null,
    discountable: bool(p, 'discountable') ?? true,
    discounts: [],
    invoice: null,
    livemode: false,
    metadata: applyMetadata({}, p),
    net_amount: amount,
    parent: null,
    period: { start: periodStart ?? now, end: periodEnd ?? now },
    pricing: { type: 'price_details', unit_amount_decimal: Stripe.Decimal.from(unit) },
    proration: false,
    // Stripe's integer `quantity` is the decimal one with its fraction truncated.
    quantity: Number(quantity.split('.')[0]),
    quantity_decimal: Stripe.Decimal.from(quantity),
    tax_rates: [],
    test_clock: null,
  };
  ctx.emu.state.invoiceItems.set(item.id, item);
  if (invoice) {
    attachItem(ctx.emu, invoice, item);
  }
  ctx.emu.emit('invoiceitem.created', item, ctx.request);
  return render(ctx.emu, item, ctx.expand);
}

function getItem(ctx: ApiContext): Stripe.InvoiceItem {
  const item = ctx.emu.state.invoiceItems.get(ctx.path.id);
  if (!item) {
    throw resourceMissing('invoiceitem', ctx.path.id);
  }
  return item;
}

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const customer = str(p, 'customer');
  const invoice = str(p, 'invoice');
  const pending = bool(p, 'pending');
  const page = paginate(
    customer === undefined
      ? newestFirst(ctx.emu.state.invoiceItems)
      : ctx.emu.state.invoiceItems.newestFirstBy('customer', customer),
    p,
    '/v1/invoiceitems',
    'invoiceitem',
    (i) =>
      (customer === undefined || i.customer === customer) &&
      (invoice === undefined || i.invoice === invoice) &&
      (pending === undefined || (i.invoice === null) === pending),
  );
  return { ...page, data: page.data.map((i) => render(ctx.emu, i, ctx.expand, 'data.')) };
}

function del(ctx: ApiContext): unknown {
  const item = getItem(ctx);
  const invoice = typeof item.invoice === 'string' ? ctx.emu.state.invoices.get(item.invoice) : undefined;
  if (invoice && invoice.status !== 'draft') {
    throw invalidState('You cannot delete an invoice item attached to a finalized invoice.', 'invoice_not_editable');
  }
  if (invoice) {
    invoice.lines.data = invoice.lines.data.filter((l) => l.parent?.invoice_item_details?.invoice_item !== item.id);
    recomputeTotals(invoice);
  }
  ctx.emu.state.invoiceItems.delete(item.id);
  ctx.emu.emit('invoiceitem.deleted', item, ctx.request);
  const deleted: Stripe.DeletedInvoiceItem = { id: item.id, object: 'invoiceitem', deleted: true };
  return deleted;
}

export function registerInvoiceItems(r: ApiRouter): void {
  r.post('/v1/invoiceitems', create);
  r.get('/v1/invoiceitems', list);
  r.get('/v1/invoiceitems/:id', (ctx) => render(ctx.emu, getItem(ctx), ctx.expand));
  r.del('/v1/invoiceitems/:id', del);
}
