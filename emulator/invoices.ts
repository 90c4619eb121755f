import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { getCustomer } from './customers';
import { invalidState, paramInvalid, paramMissing } from './errors';
import { requireCurrency } from './limits';
import { render } from './expand';
import { attachItem, getInvoice, internalsOf, invoiceView } from './invoice-model';
import { allowOnly, applyMetadata, bool, int, oneOf, str } from './params';
import { requirePaymentMethod } from './payment-methods';
import { newId } from './util';

const CREATE_PARAMS = [
  'account_tax_ids',
  'application_fee_amount',
  'auto_advance',
  'automatic_tax',
  'automatically_finalizes_at',
  'collection_method',
  'currency',
  'custom_fields',
  'customer',
  'customer_account',
  'days_until_due',
  'default_payment_method',
  'default_source',
  'default_tax_rates',
  'description',
  'discounts',
  'due_date',
  'effective_at',
  'expand',
  'footer',
  'from_invoice',
  'issuer',
  'metadata',
  'number',
  'on_behalf_of',
  'payment_settings',
  'pending_invoice_items_behavior',
  'rendering',
  'shipping_cost',
  'shipping_details',
  'statement_descriptor',
  'subscription',
  'transfer_data',
] as const satisfies ReadonlyArray<keyof Stripe.InvoiceCreateParams>;

export const COLLECTION_METHODS = ['charge_automatically', 'send_invoice'] as const;

export function output(ctx: ApiContext, inv: Stripe.Invoice, prefix = ''): unknown {
  return render(ctx.emu, invoiceView(inv), ctx.expand, prefix);
}

export function checkNumberUnique(ctx: ApiContext, number: string | undefined, self?: string): void {
  if (number === undefined) {
    return;
  }
  for (const other of ctx.emu.state.invoices.values()) {
    if (other.number === number && other.id !== self) {
      throw invalidState(
        `Invoice number ${number} is already in use. Numbers must be unique.`,
        'invoice_number_already_exists',
        'number',
      );
    }
  }
}

function create(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, CREATE_PARAMS);
  const customerId = str(p, 'customer');
  if (!customerId) {
    throw paramMissing('customer');
  }
  const customer = getCustomer(ctx, customerId, 'customer');
  const collection = oneOf(p, 'collection_method', COLLECTION_METHODS) ?? 'charge_automatically';
  const days = int(p, 'days_until_due');
  const dueDate = int(p, 'due_date');
  if (collection === 'send_invoice' && days === undefined && dueDate === undefined) {
    throw paramInvalid(
      'days_until_due',
      'Invoices with `collection_method=send_invoice` require `days_until_due` or `due_date`.',
    );
  }
  if (collection === 'charge_automatically' && (days !== undefined || dueDate !== undefined)) {
    throw paramInvalid(
      days !== undefined ? 'days_until_due' : 'due_date',
      'Invoices with `collection_method=charge_automatically` cannot have a due date.',
    );
  }
  const behavior = oneOf(p, 'pending_invoice_items_behavior', ['exclude', 'include'] as const) ?? 'exclude';
  const currency = requireCurrency(str(p, 'currency') ?? customer.currency ?? 'usd');
  const number = str(p, 'number');
  checkNumberUnique(ctx, number);
  const pm = str(p, 'default_payment_method');
  if (pm) {
    requirePaymentMethod(ctx.emu, pm, 'default_payment_method');
  }
  const autoAdvance = bool(p, 'auto_advance') ?? false;
  const now = ctx.emu.now();
  const id = newId('in');
  const inv: Stripe.Invoice = {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: ctx.emu.config.accountName,
    account_tax_ids: null,
    amount_due: 0,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: 0,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: autoAdvance,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: autoAdvance ? now + 3600 : null,
    billing_reason: 'manual',
    collection_method: collection,
    created: now,
    currency,
    custom_fields: null,
    customer: customer.id,
    customer_account: null,
    customer_address: null,
    customer_email: customer.email,
    customer_name: customer.name ?? null,
    customer_phone: customer.phone ?? null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: pm ?? null,
    default_source: null,
    default_tax_rates: [],
    description: str(p, 'description') ?? null,
    discounts: [],
    due_date: collection === 'send_invoice' ? (dueDate ?? now + (days ?? 0) * 86400) : null,
    effective_at: null,
    ending_balance: null,
    footer: str(p, 'footer') ?? null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: applyMetadata({}, p),
    next_payment_attempt: null,
    number: number ?? null,
    on_behalf_of: null,
    parent: null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: now,
    period_start: now,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: str(p, 'statement_descriptor') ?? null,
    status: 'draft',
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: 0,
    subtotal_excluding_tax: 0,
    test_clock: null,
    total: 0,
    total_discount_amounts: [],
    total_excluding_tax: 0,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  };
  ctx.emu.state.invoices.set(id, inv);
  internalsOf(ctx.emu, id).daysUntilDue = dueDate === undefined ? (days ?? null) : null;
  if (behavior === 'include') {
    const pending = [...ctx.emu.state.invoiceItems.by('customer', customer.id)].filter(
      (i) => i.invoice === null && i.currency === currency,
    );
    for (const item of pending) {
      attachItem(ctx.emu, inv, item);
    }
  }
  ctx.emu.emit('invoice.created', invoiceView(inv), ctx.request);
  return output(ctx, inv);
}

export function registerInvoices(r: ApiRouter): void {
  r.post('/v1/invoices', create);
  r.get('/v1/invoices/:id', (ctx) => output(ctx, getInvoice(ctx.emu, ctx.path.id)));
}
