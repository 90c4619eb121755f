import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { paramInvalid, resourceMissing } from './errors';
import { render } from './expand';
import { checkEmail } from './limits';
import { newestFirst, paginate, listParams } from './list';
import { allowOnly, applyMetadata, int, rangeFilter, str } from './params';
import { newId, randomToken } from './util';
import { requirePaymentMethod } from './payment-methods';

const CREATE_PARAMS = [
  'address',
  'balance',
  'business_name',
  'cash_balance',
  'description',
  'email',
  'expand',
  'individual_name',
  'invoice_prefix',
  'invoice_settings',
  'metadata',
  'name',
  'next_invoice_sequence',
  'payment_method',
  'phone',
  'preferred_locales',
  'shipping',
  'source',
  'tax',
  'tax_exempt',
  'tax_id_data',
  'test_clock',
  'validate',
] as const satisfies ReadonlyArray<keyof Stripe.CustomerCreateParams>;

const UPDATE_PARAMS = [
  'address',
  'balance',
  'business_name',
  'cash_balance',
  'default_source',
  'description',
  'email',
  'expand',
  'individual_name',
  'invoice_prefix',
  'invoice_settings',
  'metadata',
  'name',
  'next_invoice_sequence',
  'phone',
  'preferred_locales',
  'shipping',
  'source',
  'tax',
  'tax_exempt',
  'validate',
] as const satisfies ReadonlyArray<keyof Stripe.CustomerUpdateParams>;

const LIST_PARAMS = listParams<Stripe.CustomerListParams>('created', 'email', 'test_clock');

export function getCustomer(ctx: ApiContext, id: string, param = 'id'): Stripe.Customer {
  const c = ctx.emu.state.customers.get(id);
  if (!c) {
    throw resourceMissing('customer', id, param);
  }
  return c;
}

function invoicePrefix(ctx: ApiContext): string | undefined {
  const prefix = str(ctx.params, 'invoice_prefix');
  if (prefix !== undefined && !/^[A-Z0-9]{3,12}$/.test(prefix)) {
    throw paramInvalid('invoice_prefix', 'Invoice prefix must be 3-12 uppercase letters or numbers.');
  }
  return prefix;
}

function defaultPaymentMethod(ctx: ApiContext): string | null | undefined {
  const settings = ctx.params.invoice_settings;
  if (typeof settings !== 'object' || Array.isArray(settings)) {
    return undefined;
  }
  const pm = str(settings, 'default_payment_method');
  if (pm === undefined) {
    return undefined;
  }
  if (pm === '') {
    return null;
  }
  requirePaymentMethod(ctx.emu, pm, 'invoice_settings[default_payment_method]');
  return pm;
}

function create(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, CREATE_PARAMS);
  const pm = str(p, 'payment_method');
  if (pm) {
    requirePaymentMethod(ctx.emu, pm, 'payment_method');
  }
  checkEmail(str(p, 'email'));
  const customer: Stripe.Customer = {
    id: newId('cus'),
    object: 'customer',
    address: null,
    balance: int(p, 'balance') ?? 0,
    created: ctx.emu.now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: str(p, 'description') ?? null,
    discount: null,
    email: str(p, 'email') ?? null,
    invoice_prefix:
      invoicePrefix(ctx) ??
      randomToken(8)
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, 'X'),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: defaultPaymentMethod(ctx) ?? null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: applyMetadata({}, p),
    name: str(p, 'name') ?? null,
    next_invoice_sequence: int(p, 'next_invoice_sequence') ?? 1,
    phone: str(p, 'phone') ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
  ctx.emu.state.customers.set(customer.id, customer);
  ctx.emu.emit('customer.created', customer, ctx.request);
  return render(ctx.emu, customer, ctx.expand);
}

function update(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, UPDATE_PARAMS);
  const customer = getCustomer(ctx, ctx.path.id);
  const previous: Partial<Stripe.Customer> = {};
  const set = <K extends keyof Stripe.Customer>(key: K, value: Stripe.Customer[K] | undefined) => {
    if (value === undefined || JSON.stringify(customer[key]) === JSON.stringify(value)) {
      return;
    }
    previous[key] = customer[key];
    customer[key] = value;
  };
  const nullable = (name: string) => {
    const v = str(p, name);
    return v === undefined ? undefined : v === '' ? null : v;
  };
  checkEmail(nullable('email'));
  set('email', nullable('email'));
  set('name', nullable('name'));
  set('description', nullable('description'));
  set('phone', nullable('phone'));
  set('balance', int(p, 'balance'));
  set('invoice_prefix', invoicePrefix(ctx));
  set('next_invoice_sequence', int(p, 'next_invoice_sequence'));
  set('metadata', applyMetadata(customer.metadata, p));
  const pm = defaultPaymentMethod(ctx);
  if (pm !== undefined) {
    set('invoice_settings', { ...customer.invoice_settings, default_payment_method: pm });
  }
  if (Object.keys(previous).length > 0) {
    ctx.emu.emit('customer.updated', customer, ctx.request, previous);
  }
  return render(ctx.emu, customer, ctx.expand);
}

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const email = str(p, 'email');
  const created = rangeFilter(p, 'created');
  const page = paginate(
    newestFirst(ctx.emu.state.customers),
    p,
    '/v1/customers',
    'customer',
    (c) => (email === undefined || c.email === email) && (!created || created(c.created)),
  );
  return { ...page, data: page.data.map((c) => render(ctx.emu, c, ctx.expand, 'data.')) };
}

function del(ctx: ApiContext): unknown {
  const customer = getCustomer(ctx, ctx.path.id);
  ctx.emu.state.customers.delete(customer.id);
  ctx.emu.emit('customer.deleted', customer, ctx.request);
  const deleted: Stripe.DeletedCustomer = { id: customer.id, object: 'customer', deleted: true };
  ctx.emu.state.deletedCustomers.set(customer.id, deleted);
  return deleted;
}

export function registerCustomers(r: ApiRouter): void {
  r.post('/v1/customers', create);
  r.get('/v1/customers', list);
  r.get('/v1/customers/:id', (ctx) => {
    const deleted = ctx.emu.state.deletedCustomers.get(ctx.path.id);
    return deleted ?? render(ctx.emu, getCustomer(ctx, ctx.path.id), ctx.expand);
  });
  r.post('/v1/customers/:id', update);
  r.del('/v1/customers/:id', del);
}
