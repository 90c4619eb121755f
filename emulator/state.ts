import type Stripe from 'stripe';

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
  customers: Map<string, Stripe.Customer>;
  /** Stripe still answers a retrieve of a deleted customer, with this stub. */
  deletedCustomers: Map<string, Stripe.DeletedCustomer>;
  invoiceItems: Map<string, Stripe.InvoiceItem>;
  invoices: Map<string, Stripe.Invoice>;
  internals: Map<string, InvoiceInternals>;
  invoicePayments: Map<string, Stripe.InvoicePayment>;
  /** PaymentIntents made by invoice payments (one per invoice, a new one after a cancel). */
  paymentIntents: Map<string, Stripe.PaymentIntent>;
  charges: Map<string, Stripe.Charge>;
  refunds: Map<string, Stripe.Refund>;
  creditNotes: Map<string, Stripe.CreditNote>;
  /** The ledger behind customers' `balance` (`customer-balance.ts`). */
  balanceTransactions: Map<string, Stripe.CustomerBalanceTransaction>;
  paymentMethods: Map<string, Stripe.PaymentMethod>;
  events: Map<string, Stripe.Event>;
  webhookEndpoints: Map<string, Stripe.WebhookEndpoint>;
  idempotency: Map<string, IdempotencyRecord>;
  /** Seconds added to the wall clock by `/_emulator/clock/advance`. */
  clockOffset: number;
}

export function emptyState(): State {
  return {
    customers: new Map(),
    deletedCustomers: new Map(),
    invoiceItems: new Map(),
    invoices: new Map(),
    internals: new Map(),
    invoicePayments: new Map(),
    paymentIntents: new Map(),
    charges: new Map(),
    refunds: new Map(),
    creditNotes: new Map(),
    balanceTransactions: new Map(),
    paymentMethods: new Map(),
    events: new Map(),
    webhookEndpoints: new Map(),
    idempotency: new Map(),
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
      // Entries were written by serializeState from the same typed maps.
      (state[key] as Map<string, unknown>) = new Map(entries as Array<[string, unknown]>);
    }
  }
  return state;
}
