import { randomBytes, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { Customer, Invoice, InvoiceStatusChange, WebhookEvent } from '../../src/entities';
import { InvoiceStatus } from '../../src/entities/enums';
import type { Database } from '../../src/entities/orm';
import type { ManualClock } from '../helpers/clock';
import { WAIT_GUARD_MS } from '../helpers/clock';
import { waitForValue } from '../helpers/wait';
import { TEST_WEBHOOK_SECRET } from '../helpers/server';
import type { Clock } from '../../src/config/clock';
import { loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/config/logger';
import { toEventRecord } from '../../src/stripe';
import { createWebhookComponents, storeStripeEvent, webhookBatchCommitted } from '../../src/webhooks';
import type { WebhookComponents, WebhookOptions } from '../../src/webhooks';

export const API_VERSION = '2026-10-28.endive';
export const WEBHOOK_PATH = '/api/v1/webhooks/stripe';

export const stripeId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** An invoice as Stripe sends it at this API version (no `payment_intent`/`paid`: `status` + `payments`). */
export function stripeInvoice(overrides: Partial<Stripe.Invoice> & { id?: string } = {}): Stripe.Invoice {
  const id = overrides.id ?? stripeId('in');
  const created = nowSeconds() - 60;
  const total = 12345;
  return {
    id,
    object: 'invoice',
    account_country: 'US',
    account_name: 'AgentHub',
    account_tax_ids: null,
    amount_due: total,
    amount_overpaid: 0,
    amount_paid: 0,
    amount_remaining: total,
    amount_shipping: 0,
    application: null,
    attempt_count: 0,
    attempted: false,
    auto_advance: false,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null,
    billing_reason: 'manual',
    collection_method: 'send_invoice',
    created,
    currency: 'usd',
    custom_fields: null,
    customer: stripeId('cus'),
    customer_account: null,
    customer_address: null,
    customer_email: 'user@example.com',
    customer_name: null,
    customer_phone: null,
    customer_shipping: null,
    customer_tax_exempt: 'none',
    customer_tax_ids: [],
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    due_date: created + 30 * 86400,
    effective_at: created,
    ending_balance: 0,
    footer: null,
    from_invoice: null,
    hosted_invoice_url: `https://invoice.stripe.com/i/acct_test/test_${id}?s=ap`,
    invoice_pdf: `https://pay.stripe.com/invoice/acct_test/test_${id}/pdf?s=ap`,
    issuer: { type: 'self' },
    last_finalization_error: null,
    latest_revision: null,
    lines: { object: 'list', data: [], has_more: false, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: null,
    number: 'AH-TEST-0001',
    on_behalf_of: null,
    parent: null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    period_end: created,
    period_start: created,
    post_payment_credit_notes_amount: 0,
    pre_payment_credit_notes_amount: 0,
    receipt_number: null,
    rendering: null,
    shipping_cost: null,
    shipping_details: null,
    starting_balance: 0,
    statement_descriptor: null,
    status: 'open',
    status_transitions: { finalized_at: created, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    subtotal: total,
    subtotal_excluding_tax: total,
    test_clock: null,
    total,
    total_discount_amounts: [],
    total_excluding_tax: total,
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
    ...overrides,
  } as Stripe.Invoice;
}

/** The invoice snapshot each event type carries (status, amounts, transition times). */
export function invoiceForEvent(type: Stripe.Event.Type, base: Stripe.Invoice, at = nowSeconds()): Stripe.Invoice {
  const transitions = { ...base.status_transitions };
  switch (type) {
    case 'invoice.paid':
    case 'invoice.payment_succeeded':
      return {
        ...base,
        status: 'paid',
        amount_paid: base.amount_due,
        amount_remaining: 0,
        attempted: true,
        attempt_count: base.attempt_count + 1,
        status_transitions: { ...transitions, paid_at: at },
      };
    case 'invoice.payment_failed':
    case 'invoice.payment_action_required':
      return { ...base, status: 'open', attempted: true, attempt_count: base.attempt_count + 1 };
    case 'invoice.voided':
      return { ...base, status: 'void', status_transitions: { ...transitions, voided_at: at } };
    case 'invoice.marked_uncollectible':
      return { ...base, status: 'uncollectible', status_transitions: { ...transitions, marked_uncollectible_at: at } };
    default:
      return { ...base, status: 'open' };
  }
}

export function stripeSubscription(overrides: Partial<Stripe.Subscription> = {}): Stripe.Subscription {
  const id = overrides.id ?? stripeId('sub');
  const start = nowSeconds() - 3600;
  const end = start + 30 * 86400;
  const item = {
    id: stripeId('si'),
    object: 'subscription_item',
    created: start,
    current_period_start: start,
    current_period_end: end,
    discounts: [],
    metadata: {},
    price: { id: stripeId('price'), object: 'price', currency: 'usd', unit_amount: 2000 },
    quantity: 1,
    subscription: id,
    tax_rates: [],
  } as unknown as Stripe.SubscriptionItem;
  return {
    id,
    object: 'subscription',
    application: null,
    billing_cycle_anchor: start,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    collection_method: 'charge_automatically',
    created: start,
    currency: 'usd',
    customer: stripeId('cus'),
    default_payment_method: null,
    description: null,
    discounts: [],
    ended_at: null,
    items: { object: 'list', data: [item], has_more: false, url: `/v1/subscription_items?subscription=${id}` },
    latest_invoice: null,
    livemode: false,
    metadata: {},
    start_date: start,
    status: 'active',
    trial_end: null,
    trial_start: null,
    ...overrides,
  } as unknown as Stripe.Subscription;
}

/** Our invoice as Stripe holds it: its Stripe id (a new one when it has none) and our id in its metadata. */
export function remoteOf(row: Pick<Invoice, 'id' | 'stripeInvoiceId'>): Stripe.Invoice {
  return stripeInvoice({ id: row.stripeInvoiceId ?? undefined, metadata: { agenthub_invoice_id: row.id } });
}

/** A `Stripe.Event` envelope around an object snapshot. */
export function stripeEvent(
  type: string,
  object: { id: string },
  options: { id?: string; created?: number; previous?: Record<string, unknown> } = {},
): Stripe.Event {
  return {
    id: options.id ?? stripeId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: options.created ?? nowSeconds(),
    data: { object, ...(options.previous ? { previous_attributes: options.previous } : {}) },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  } as unknown as Stripe.Event;
}

/** An invoice event as Stripe makes it at `created`: the snapshot of `base` that `type` carries (`invoiceForEvent`). */
export function invoiceEvent(
  type: Stripe.Event.Type,
  base: Stripe.Invoice,
  created: number,
): Stripe.Event & { data: { object: Stripe.Invoice } } {
  return stripeEvent(type, invoiceForEvent(type, base, created), { created }) as Stripe.Event & {
    data: { object: Stripe.Invoice };
  };
}

const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', STRIPE_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET });
const logger = createLogger(config);

/** The webhook route and worker on `db` as the server builds them: silent, signed with the tests' secret. */
export function webhookComponents(db: Database, options?: Partial<WebhookOptions>, clock?: Clock): WebhookComponents {
  return createWebhookComponents({ db, config, logger, options, clock });
}

/** Stores an event as the route does once it has verified it (a duplicate of a stored one is stored once). */
export async function storeEvent(db: Database, event: Stripe.Event): Promise<{ duplicate: boolean }> {
  return storeStripeEvent(db.orm.em.fork(), toEventRecord(event));
}

/** Runs one batch of a worker on `db` (the default options but a batch of 50, then `options`). */
export function runBatch(
  db: Database,
  options: Partial<WebhookOptions> = {},
  clock?: Clock,
): Promise<{ claimed: number; deferred: number }> {
  return webhookComponents(db, { batchSize: 50, ...options }, clock).worker.runOnce();
}

/** Stores the events, in order, then runs one batch (`runBatch`). */
export async function applyInOneBatch(
  db: Database,
  events: readonly Stripe.Event[],
  options: Partial<WebhookOptions> = {},
  clock?: Clock,
): Promise<{ claimed: number; deferred: number }> {
  for (const event of events) {
    await storeEvent(db, event);
  }
  return runBatch(db, options, clock);
}

/** The outgoing events written for an invoice (its ordering key), in order. */
export async function outgoingOf(
  db: Database,
  invoiceId: string,
): Promise<Array<{ type: string; data: { invoice: Record<string, unknown>; previousStatus?: string } }>> {
  return db.orm.em
    .fork()
    .getConnection()
    .execute('select type, data from outgoing_events where ordering_key = ? order by id', [invoiceId]);
}

export interface PostOptions {
  /** Signature header to send instead of a valid one; `null` sends none. */
  signature?: string | null;
  timestamp?: number;
  secret?: string;
  contentType?: string;
}

/** POSTs an event (or raw text) to the webhook route, signed like Stripe does unless told otherwise. */
export async function postWebhook(
  baseUrl: string,
  body: Stripe.Event | string,
  options: PostOptions = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json' };
  const signature =
    options.signature !== undefined
      ? options.signature
      : Stripe.webhooks.generateTestHeaderString({
          payload,
          secret: options.secret ?? TEST_WEBHOOK_SECRET,
          timestamp: options.timestamp,
        });
  if (signature !== null) {
    headers['stripe-signature'] = signature;
  }
  const res = await fetch(`${baseUrl}${WEBHOOK_PATH}`, { method: 'POST', headers, body: payload });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

/** An invoice row as our API would have stored it (createInvoice is written elsewhere). */
export async function seedInvoice(
  db: Database,
  input: { id?: string; status?: InvoiceStatus; stripeInvoiceId?: string | null; totalMinor?: bigint } = {},
): Promise<Invoice> {
  const em = db.orm.em.fork();
  const customer = em.create(Customer, { externalUserId: `user-${randomUUID()}` });
  const total = input.totalMinor ?? 12345n;
  const invoice = em.create(Invoice, {
    id: input.id ?? randomUUID(),
    number: `AH-2026-10-${randomBytes(4).toString('hex')}`,
    customer,
    period: '2026-10',
    periodStart: new Date('2026-10-01T00:00:00Z'),
    periodEnd: new Date('2026-11-01T00:00:00Z'),
    currency: 'usd',
    status: input.status ?? InvoiceStatus.OPEN,
    subtotalMinor: total,
    totalMinor: total,
    stripeInvoiceId: input.stripeInvoiceId === undefined ? stripeId('in') : input.stripeInvoiceId,
  });
  await em.flush();
  return invoice;
}

export async function loadInvoice(db: Database, id: string): Promise<Invoice> {
  return db.orm.em.fork().findOneOrFail(Invoice, id);
}

export async function historyOf(db: Database, invoiceId: string): Promise<InvoiceStatusChange[]> {
  return db.orm.em
    .fork()
    .find(InvoiceStatusChange, { invoice: invoiceId }, { orderBy: { occurredAt: 'asc', id: 'asc' } });
}

export async function findEvent(db: Database, id: string): Promise<WebhookEvent | null> {
  return db.orm.em.fork().findOne(WebhookEvent, id);
}

export async function countEvents(db: Database): Promise<number> {
  return db.orm.em.fork().count(WebhookEvent, {});
}

/** Polls until `check` returns a truthy value (or fails with the last value after `timeoutMs`). */
export async function waitFor<T>(
  check: () => Promise<T>,
  timeoutMs = WAIT_GUARD_MS,
  label = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await check();
  while (!last) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${label}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    last = await check();
  }
  return last as NonNullable<T>;
}

/**
 * Waits for `check` while moving `clock` (the one a worker sleeps on) `stepMs` at a time, each step once everything
 * on the clock sleeps again: retries happen at the times the worker chose, as fast as the machine allows.
 */
export async function driveUntil<T>(
  clock: ManualClock,
  check: () => Promise<T>,
  stepMs: number,
  label = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + WAIT_GUARD_MS;
  let last: T = await check();
  while (!last) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${WAIT_GUARD_MS} ms driving the clock until ${label}`);
    }
    await clock.whenSleeping();
    last = await check();
    if (!last) {
      clock.advance(stepMs);
    }
  }
  return last as NonNullable<T>;
}

/** The stored event once it has left the queue (processed, ignored or failed), else null. */
export async function settledEvent(db: Database, id: string): Promise<WebhookEvent | null> {
  const event = await findEvent(db, id);
  return event && ['processed', 'ignored', 'failed'].includes(event.status) ? event : null;
}

/** Waits until an event has left the queue (processed, ignored or failed), woken by the worker's commits. */
export function settled(db: Database, id: string): Promise<WebhookEvent> {
  return waitForApplied(() => settledEvent(db, id), `event ${id} to settle`);
}

/**
 * Resolves with `check()`'s value once it is truthy, checking it now and again each time a webhook worker of this
 * process commits a batch (`webhookBatchCommitted`): for conditions only the worker brings about (an event settled,
 * its effect on an invoice).
 */
export function waitForApplied<T>(check: () => Promise<T>, label = 'condition'): Promise<NonNullable<T>> {
  return waitForValue(label, check, (wake) => webhookBatchCommitted.subscribe(wake));
}
