import type Stripe from 'stripe';
import type { Emulator } from './context';
import { paramInvalid } from './errors';
import { snapshot } from './util';
import { paymentIntentView } from './payment-intents';
import { lookupPaymentMethod } from './payment-methods';

/** Fields Stripe only returns when expanded ("includable"). */
function includable(emu: Emulator, obj: Record<string, unknown>, field: string): unknown {
  if (obj.object !== 'invoice') {
    return undefined;
  }
  const invoice = obj as unknown as Stripe.Invoice;
  if (field === 'payments') {
    // Copies: expanding inside them (`payments.data.payment.payment_intent`) must not change the stored payments.
    const data = [...emu.state.invoicePayments.newestFirstBy('invoice', invoice.id)].map((p) => snapshot(p));
    return { object: 'list', data, has_more: false, url: `/v1/invoice_payments?invoice=${invoice.id}` };
  }
  if (field === 'confirmation_secret') {
    const internals = emu.state.internals.get(invoice.id);
    if (!internals?.clientSecret || invoice.status !== 'open') {
      return null;
    }
    const secret: Stripe.Invoice.ConfirmationSecret = { client_secret: internals.clientSecret, type: 'payment_intent' };
    return secret;
  }
  return undefined;
}

function lookup(emu: Emulator, id: string): unknown {
  const s = emu.state;
  if (id.startsWith('cus_')) {
    return s.customers.get(id);
  }
  if (id.startsWith('in_')) {
    return s.invoices.get(id);
  }
  if (id.startsWith('ii_')) {
    return s.invoiceItems.get(id);
  }
  if (id.startsWith('pm_')) {
    return lookupPaymentMethod(emu, id);
  }
  if (id.startsWith('pi_')) {
    return paymentIntentView(emu, id);
  }
  if (id.startsWith('ch_')) {
    return s.charges.get(id);
  }
  if (id.startsWith('re_')) {
    return s.refunds.get(id);
  }
  if (id.startsWith('cn_')) {
    return s.creditNotes.get(id);
  }
  return undefined;
}

function expandPath(emu: Emulator, target: unknown, segments: string[], full: string): void {
  if (target === null || typeof target !== 'object') {
    return;
  }
  if (Array.isArray(target)) {
    for (const item of target) {
      expandPath(emu, item, segments, full);
    }
    return;
  }
  const obj = target as Record<string, unknown>;
  const [head, ...rest] = segments;
  if (rest.length === 0) {
    const value = obj[head];
    if (typeof value === 'string') {
      const found = lookup(emu, value);
      if (found) {
        obj[head] = snapshot(found);
      }
      return;
    }
    if (value === undefined) {
      const inc = includable(emu, obj, head);
      if (inc !== undefined) {
        obj[head] = inc;
        return;
      }
      if (!(head in obj)) {
        throw paramInvalid('expand', `This property cannot be expanded (${full}).`);
      }
    }
    return;
  }
  let next = obj[head];
  if (next === undefined) {
    next = includable(emu, obj, head);
    if (next !== undefined) {
      obj[head] = next;
    }
  } else if (typeof next === 'string') {
    const found = lookup(emu, next);
    if (found) {
      obj[head] = next = snapshot(found);
    }
  }
  expandPath(emu, next, rest, full);
}

/**
 * A copy of a stored object as the API returns it, with `expand[]` paths applied.
 * `prefix` selects the paths that apply (e.g. `data.` for list items).
 */
export function render<T extends object>(emu: Emulator, obj: T, expand: string[], prefix = ''): T {
  const paths = expand.filter((e) => e.startsWith(prefix)).map((e) => e.slice(prefix.length));
  if (paths.length === 0) {
    return obj;
  }
  if (paths.some((p) => p.split('.').length > 4)) {
    throw paramInvalid('expand', 'You cannot expand more than 4 levels of a property.');
  }
  const copy = snapshot(obj);
  for (const path of paths) {
    expandPath(emu, copy, path.split('.'), path);
  }
  return copy;
}
