import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { invalidState } from './errors';
import { getInvoice, internalsOf, invoiceView } from './invoice-model';
import { checkNumberUnique, COLLECTION_METHODS, output } from './invoices';
import { allowOnly, applyMetadata, bool, int, oneOf, str } from './params';
import { requirePaymentMethod } from './payment-methods';

const UPDATE_PARAMS = [
  'auto_advance',
  'collection_method',
  'days_until_due',
  'default_payment_method',
  'description',
  'due_date',
  'expand',
  'footer',
  'metadata',
  'number',
  'statement_descriptor',
] as const satisfies ReadonlyArray<keyof Stripe.InvoiceUpdateParams>;

function update(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, UPDATE_PARAMS);
  const inv = getInvoice(ctx.emu, ctx.path.id);
  const draftOnly = ['collection_method', 'days_until_due', 'due_date', 'number', 'default_payment_method'];
  if (inv.status !== 'draft') {
    const blocked = draftOnly.find((k) => p[k] !== undefined);
    if (blocked) {
      throw invalidState(`You can only update \`${blocked}\` on a draft invoice.`, 'invoice_not_editable', blocked);
    }
    if (inv.status === 'paid' || inv.status === 'void') {
      const other = Object.keys(p).find((k) => k !== 'metadata' && k !== 'expand');
      if (other) {
        throw invalidState(`You can only update metadata on a ${inv.status} invoice.`, 'invoice_not_editable', other);
      }
    }
  }
  const previous: Partial<Stripe.Invoice> = {};
  const set = <K extends keyof Stripe.Invoice>(key: K, value: Stripe.Invoice[K] | undefined) => {
    if (value === undefined || JSON.stringify(inv[key]) === JSON.stringify(value)) {
      return;
    }
    previous[key] = inv[key];
    inv[key] = value;
  };
  const nullable = (name: string) => {
    const v = str(p, name);
    return v === undefined ? undefined : v === '' ? null : v;
  };
  set('metadata', applyMetadata(inv.metadata ?? {}, p));
  set('description', nullable('description'));
  set('footer', nullable('footer'));
  set('statement_descriptor', nullable('statement_descriptor'));
  set('auto_advance', bool(p, 'auto_advance'));
  set('collection_method', oneOf(p, 'collection_method', COLLECTION_METHODS));
  const number = nullable('number');
  if (number) {
    checkNumberUnique(ctx, number, inv.id);
  }
  set('number', number);
  const pm = nullable('default_payment_method');
  if (pm) {
    requirePaymentMethod(ctx.emu, pm, 'default_payment_method');
  }
  set('default_payment_method', pm);
  const days = int(p, 'days_until_due');
  if (days !== undefined) {
    internalsOf(ctx.emu, inv.id).daysUntilDue = days;
    set('due_date', inv.created + days * 86400);
  }
  set('due_date', int(p, 'due_date'));
  if (Object.keys(previous).length > 0) {
    ctx.emu.emit('invoice.updated', invoiceView(inv), ctx.request, previous);
  }
  return output(ctx, inv);
}

function del(ctx: ApiContext): unknown {
  const inv = getInvoice(ctx.emu, ctx.path.id);
  if (inv.status !== 'draft') {
    throw invalidState('You can only delete draft invoices. Void finalized invoices instead.', 'invoice_not_editable');
  }
  // An invoice's items are its customer's.
  for (const item of [...ctx.emu.state.invoiceItems.by('customer', inv.customer as string)]) {
    if (item.invoice === inv.id) {
      ctx.emu.state.invoiceItems.delete(item.id);
    }
  }
  ctx.emu.state.invoices.delete(inv.id);
  ctx.emu.state.internals.delete(inv.id);
  ctx.emu.emit('invoice.deleted', invoiceView(inv), ctx.request);
  const deleted: Stripe.DeletedInvoice = { id: inv.id, object: 'invoice', deleted: true };
  return deleted;
}

export function registerInvoiceEdits(r: ApiRouter): void {
  r.post('/v1/invoices/:id', update);
  r.del('/v1/invoices/:id', del);
}
