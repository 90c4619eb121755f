import type Stripe from 'stripe';
import { Collection } from './collection';

/** Emulator-only facts about an invoice that are not part of Stripe's object. */
export interface InvoiceInternals {
  /** Secret path segment of the hosted invoice page and PDF. */
  token: string;
  paymentIntentId: string | null;
  clientSecret: string | null;
  /** Payment method waiting for a 3-D Secure challenge, if any. */
  pendingActionPaymentMethod: string | null;
  overdueSent: boolean;
  /** `days_until_due` given at creation (send_invoice): the due date is counted from finalization. */
  daysUntilDue: number | null;
}

/** A stored response, replayed for a repeated idempotency key. */
export interface IdempotencyRecord {
  method: string;
  path: string;
  params: string;
  status: number;
  body: string;
  requestId: string;
  createdAt: number;
}

export interface State {
  customers: Collection<Stripe.Customer>;
  /** Stripe still answers a retrieve of a deleted customer, with this stub. */
  deletedCustomers: Collection<Stripe.DeletedCustomer>;
  /** Indexed by `customer`. */
  invoiceItems: Collection<Stripe.InvoiceItem, 'customer'>;
  /** Indexed by `customer`. */
  invoices: Collection<Stripe.Invoice, 'customer'>;
  internals: Collection<InvoiceInternals>;
  /** Indexed by `invoice` and by the PaymentIntent it tracks (`paymentIntent`). */
  invoicePayments: Collection<Stripe.InvoicePayment, 'invoice' | 'paymentIntent'>;
  /** PaymentIntents made by invoice payments (one per invoice, a new one after a cancel). */
  paymentIntents: Collection<Stripe.PaymentIntent>;
  charges: Collection<Stripe.Charge>;
  refunds: Collection<Stripe.Refund>;
  /** Indexed by `invoice`. */
  creditNotes: Collection<Stripe.CreditNote, 'invoice'>;
  /** The ledger behind customers' `balance` (`customer-balance.ts`); indexed by `customer`. */
  balanceTransactions: Collection<Stripe.CustomerBalanceTransaction, 'customer'>;
  paymentMethods: Collection<Stripe.PaymentMethod>;
  events: Collection<Stripe.Event>;
  webhookEndpoints: Collection<Stripe.WebhookEndpoint>;
  idempotency: Collection<IdempotencyRecord>;
  /** Seconds added to the wall clock by `/_emulator/clock/advance`. */
  clockOffset: number;
}

/** The id of an expandable field as stored (an id; an object only if something stored it expanded). */
const idOf = (v: string | { id: string } | null | undefined): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : v.id;

export function emptyState(): State {
  return {
    customers: new Collection(),
    deletedCustomers: new Collection(),
    invoiceItems: new Collection({ customer: (i) => idOf(i.customer) }),
    invoices: new Collection({ customer: (i) => idOf(i.customer) }),
    internals: new Collection(),
    invoicePayments: new Collection({
      invoice: (p) => idOf(p.invoice),
      paymentIntent: (p) => idOf(p.payment.payment_intent),
    }),
    paymentIntents: new Collection(),
    charges: new Collection(),
    refunds: new Collection(),
    creditNotes: new Collection({ invoice: (c) => idOf(c.invoice) }),
    balanceTransactions: new Collection({ customer: (t) => idOf(t.customer) }),
    paymentMethods: new Collection(),
    events: new Collection(),
    webhookEndpoints: new Collection(),
    idempotency: new Collection(),
    clockOffset: 0,
  };
}

const MAP_KEYS = [
  'customers',
  'deletedCustomers',
  'invoiceItems',
  'invoices',
  'internals',
  'invoicePayments',
  'paymentIntents',
  'charges',
  'refunds',
  'creditNotes',
  'balanceTransactions',
  'paymentMethods',
  'events',
  'webhookEndpoints',
  'idempotency',
] as const;

export function serializeState(state: State): string {
  const out: Record<string, unknown> = { version: 1, clockOffset: state.clockOffset };
  for (const key of MAP_KEYS) {
    out[key] = [...state[key].entries()];
  }
  return JSON.stringify(out);
}

export function deserializeState(text: string): State {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const state = emptyState();
  state.clockOffset = typeof raw.clockOffset === 'number' ? raw.clockOffset : 0;
  for (const key of MAP_KEYS) {
    const entries = raw[key];
    if (Array.isArray(entries)) {
      // Entries were written by serializeState from the same typed collections.
      const into = state[key] as Collection<unknown>;
      for (const [id, value] of entries as Array<[string, unknown]>) {
        into.set(id, value);
      }
    }
  }
  return state;
}
