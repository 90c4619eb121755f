import type Stripe from 'stripe';
import { ManualClock } from '../helpers/clock';
import { HANG, openInvoice, rejection, startHarness, startReceiver, useHarness } from './helpers';

const SECRET = 'whsec_conformance_secret';

const h = useHarness({ webhookSecret: SECRET, webhookRetryScheduleMs: [50, 100] });
beforeEach(async () => {
  await h.control.waitForWebhooks();
  await h.control.reset();
  h.receiver.received.length = 0;
  h.receiver.statuses.length = 0;
});

function verified(secret = SECRET): Stripe.Event[] {
  return h.receiver.received.map((r) =>
    h.stripe.webhooks.constructEvent(r.body, String(r.headers['stripe-signature']), secret),
  );
}

describe('webhook delivery', () => {
  it('delivers every lifecycle event, signed so that constructEvent verifies it, in order', async () => {
    const inv = await openInvoice(h.stripe, 2000);
    await h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' });
    await h.control.waitForWebhooks();
    const events = verified();
    expect(events.map((e) => e.type)).toEqual([
      'customer.created',
      'invoice.created',
      'invoiceitem.created',
      'payment_intent.created',
      'invoice.finalized',
      'charge.succeeded',
      'payment_intent.succeeded',
      'invoice.updated',
      'invoice.paid',
      'invoice.payment_succeeded',
      'invoice_payment.paid',
    ]);
    const updated = events.find((e) => e.type === 'invoice.updated') as Stripe.InvoiceUpdatedEvent;
    expect(updated.data.previous_attributes).toMatchObject({ status: 'open', amount_paid: 0, amount_remaining: 2000 });
    const paid = events.find((e) => e.type === 'invoice.paid') as Stripe.InvoicePaidEvent;
    expect(paid.data.object).toMatchObject({ id: inv.id, status: 'paid', amount_paid: 2000 });
    expect(paid.api_version).toBe('2026-10-28.endive');
    expect(paid.request?.id).toMatch(/^req_/);
    expect(h.receiver.received[0].headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(h.receiver.received[0].headers['content-type']).toContain('application/json');

    // The event API returns the same events, newest first, with type and created filters.
    // `created` has one-second resolution: filter from the invoice's creation so a second boundary cannot cut the list.
    const listed = await h.stripe.events.list({ type: 'invoice.*', created: { gte: inv.created } });
    expect(listed.data.map((e) => e.type)).toEqual([
      'invoice.payment_succeeded',
      'invoice.paid',
      'invoice.updated',
      'invoice.finalized',
      'invoice.created',
    ]);
    const one = await h.stripe.events.retrieve(paid.id);
    expect(one.id).toBe(paid.id);
    expect(one.pending_webhooks).toBe(0);
    expect((await rejection(h.stripe.events.retrieve('evt_missing'))).statusCode).toBe(404);
  });

  it('rejects a tampered payload or a wrong secret', async () => {
    await h.stripe.customers.create({ email: 'sig@example.com' });
    const [r] = await h.receiver.waitFor(1);
    const header = String(r.headers['stripe-signature']);
    expect(() => h.stripe.webhooks.constructEvent(r.body.replace('sig@', 'evil@'), header, SECRET)).toThrow();
    expect(() => h.stripe.webhooks.constructEvent(r.body, header, 'whsec_other')).toThrow();
  });

  it('retries on 500 with backoff and records every attempt in the delivery log', async () => {
    h.receiver.statuses.push(500, 503);
    const customer = await h.stripe.customers.create({});
    await h.receiver.waitFor(3);
    await h.control.waitForWebhooks();
    const log = await h.control.deliveries();
    expect(log.map((d) => [d.attempt, d.status, d.succeeded])).toEqual([
      [1, 500, false],
      [2, 503, false],
      [3, 200, true],
    ]);
    expect(log[0].nextRetryAt).not.toBeNull();
    expect(new Set(verified().map((e) => (e.data.object as Stripe.Customer).id))).toEqual(new Set([customer.id]));
  });

  it('treats a receiver that does not answer in time as a failure and retries', async () => {
    const slow = await startHarness({
      webhookUrl: h.receiver.url,
      webhookSecret: SECRET,
      webhookTimeoutMs: 150,
      webhookRetryScheduleMs: [20],
    });
    try {
      h.receiver.statuses.push(HANG);
      await slow.stripe.customers.create({});
      await slow.control.waitForWebhooks();
      const log = await slow.control.deliveries();
      expect(log.map((d) => [d.attempt, d.status, d.error, d.succeeded])).toEqual([
        [1, null, 'timeout', false],
        [2, 200, null, true],
      ]);
    } finally {
      await slow.emulator.stop();
    }
  });

  it('gives up after the retry schedule is exhausted', async () => {
    h.receiver.statuses.push(500, 500, 500, 500);
    await h.stripe.customers.create({});
    await h.control.waitForWebhooks();
    const log = await h.control.deliveries();
    expect(log.map((d) => d.status)).toEqual([500, 500, 500]);
    expect(log.at(-1)?.nextRetryAt).toBeNull();
  });

  it('can deliver duplicates', async () => {
    await h.control.setWebhookMode({ duplicate: true });
    const c = await h.stripe.customers.create({});
    await h.control.waitForWebhooks();
    expect(verified().map((e) => e.id)).toHaveLength(2);
    expect(new Set(verified().map((e) => e.id)).size).toBe(1);
    expect(verified()[0].data.object).toMatchObject({ id: c.id });
  });

  it('can deliver out of order: what is emitted within the window of the emulator clock, newest first', async () => {
    const clock = new ManualClock();
    const reordering = await startHarness({ webhookUrl: h.receiver.url, webhookSecret: SECRET, clock });
    try {
      await reordering.control.setWebhookMode({ outOfOrder: true, outOfOrderWindowMs: 100 });
      // Four calls, five events, however long they take: the window is 100 ms of a clock that stands still.
      const inv = await openInvoice(reordering.stripe, 100);
      expect(inv.status).toBe('open');
      await clock.whenSleeping(); // the window waits for its end
      expect(h.receiver.received).toEqual([]);
      clock.advance(100);
      await reordering.control.waitForWebhooks();
      expect(verified().map((e) => e.type)).toEqual([
        'invoice.finalized',
        'payment_intent.created',
        'invoiceitem.created',
        'invoice.created',
        'customer.created',
      ]);
    } finally {
      await reordering.emulator.stop();
    }
  });

  it('can deliver late: after delayMs of the emulator clock', async () => {
    const clock = new ManualClock();
    const late = await startHarness({ webhookUrl: h.receiver.url, webhookSecret: SECRET, clock });
    try {
      await late.control.setWebhookMode({ delayMs: 200 });
      await late.stripe.customers.create({});
      await clock.whenSleeping(); // the delivery waits for its time
      clock.advance(199);
      expect(clock.pending).toBe(1);
      expect(h.receiver.received).toEqual([]);
      clock.advance(1);
      const [delivered] = await h.receiver.waitFor(1);
      expect(verified().map((e) => e.type)).toEqual(['customer.created']);
      expect(delivered.status).toBe(200);
    } finally {
      await late.emulator.stop();
    }
  });
});

describe('realistic delivery profile', () => {
  /** Creates a customer and an open invoice on a harness whose deliveries wait on `clock`, then lets them all go. */
  async function deliveredWith(seed: number, clock = new ManualClock()): Promise<Stripe.Event[]> {
    h.receiver.received.length = 0;
    const realistic = await startHarness({
      webhookUrl: h.receiver.url,
      webhookSecret: SECRET,
      clock,
      delivery: { profile: 'realistic', seed, maxDelayMs: 2_000 },
    });
    try {
      await openInvoice(realistic.stripe, 100);
      // Every delivery waits on the emulator's clock, which stands still: nothing has left yet.
      await clock.whenSleeping(4);
      expect(h.receiver.received).toEqual([]);
      clock.advance(2_000);
      await realistic.control.waitForWebhooks();
      return verified();
    } finally {
      await realistic.emulator.stop();
    }
  }

  it('delays each delivery on the emulator clock, sends some twice and reorders close events, as its seed decides', async () => {
    const emitted = [
      'customer.created',
      'invoice.created',
      'invoiceitem.created',
      'payment_intent.created',
      'invoice.finalized',
    ];
    const runs: Stripe.Event[][] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const events = await deliveredWith(seed);
      // Every event arrives, once or twice, never otherwise changed.
      expect([...new Set(events.map((e) => e.type))].sort()).toEqual([...emitted].sort());
      expect(events.length).toBeLessThanOrEqual(2 * emitted.length);
      runs.push(events);
    }
    const orders = runs.map((events) => [...new Set(events.map((e) => e.type))]);
    expect(orders.some((order) => order.join() !== emitted.join())).toBe(true);
    expect(runs.some((events) => events.length > emitted.length)).toBe(true);
    // The same seed makes the same choices.
    expect((await deliveredWith(3)).map((e) => e.type)).toEqual(runs[2].map((e) => e.type));
  });

  it('stays ideal while a chaos switch is on, and a reset returns to the profile', async () => {
    const realistic = await startHarness({
      webhookUrl: h.receiver.url,
      webhookSecret: SECRET,
      delivery: { profile: 'realistic', seed: 7 },
    });
    try {
      expect(await realistic.control.setWebhookMode({ duplicate: true })).toMatchObject({ profile: 'realistic' });
      await realistic.stripe.customers.create({});
      await realistic.control.waitForWebhooks();
      expect(verified()).toHaveLength(2);
      await realistic.control.reset();
      expect(await realistic.control.setWebhookMode({})).toMatchObject({ profile: 'realistic', duplicate: false });
    } finally {
      await realistic.emulator.stop();
    }
  });
});

describe('webhooks_delivered_at', () => {
  it('is set once invoice.created has reached every endpoint, at creation when there is none', async () => {
    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    await h.control.waitForWebhooks();
    const delivered = await h.stripe.invoices.retrieve(draft.id);
    expect(delivered.webhooks_delivered_at).toEqual(expect.any(Number));
    expect(delivered.webhooks_delivered_at).toBeGreaterThanOrEqual(draft.created);

    const silent = await startHarness();
    try {
      const alone = await silent.stripe.customers.create({});
      const created = await silent.stripe.invoices.create({ customer: alone.id });
      expect(created.webhooks_delivered_at).toBe(created.created);
    } finally {
      await silent.emulator.stop();
    }
  });
});

describe('forwarding target', () => {
  it('can be re-pointed at runtime (control API) and signs with the new secret', async () => {
    const other = await startReceiver();
    try {
      await h.control.setWebhookTarget(other.url, 'whsec_other_secret');
      await h.stripe.customers.create({ email: 'moved@example.com' });
      await other.waitFor(1);
      const event = h.stripe.webhooks.constructEvent(
        other.received[0].body,
        String(other.received[0].headers['stripe-signature']),
        'whsec_other_secret',
      );
      expect(event.type).toBe('customer.created');
      expect(h.receiver.received).toHaveLength(0);
    } finally {
      h.emulator.setWebhookTarget(h.receiver.url, SECRET);
      await other.stop();
    }
  });
});

describe('webhook endpoints', () => {
  it('creates (secret shown once), lists, filters events and deletes endpoints', async () => {
    const second = await startReceiver();
    try {
      const ep = await h.stripe.webhookEndpoints.create({
        url: second.url,
        enabled_events: ['invoice.paid', 'invoice.payment_failed'],
      });
      expect(ep.secret).toMatch(/^whsec_/);
      expect(ep.status).toBe('enabled');
      const listed = await h.stripe.webhookEndpoints.list();
      expect(listed.data.map((e) => e.id)).toEqual([ep.id]);
      expect(listed.data[0].secret).toBeUndefined();

      const inv = await openInvoice(h.stripe, 100);
      await h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' });
      await h.control.waitForWebhooks();
      const events = second.received.map((r) =>
        h.stripe.webhooks.constructEvent(r.body, String(r.headers['stripe-signature']), ep.secret ?? ''),
      );
      expect(events.map((e) => e.type)).toEqual(['invoice.paid']);

      const deleted = await h.stripe.webhookEndpoints.del(ep.id);
      expect(deleted.deleted).toBe(true);
      const inv2 = await openInvoice(h.stripe, 100);
      await h.stripe.invoices.pay(inv2.id, { payment_method: 'pm_card_visa' });
      await h.control.waitForWebhooks();
      expect(second.received).toHaveLength(1);
      expect((await rejection(h.stripe.webhookEndpoints.retrieve(ep.id))).statusCode).toBe(404);
    } finally {
      await second.stop();
    }
  });

  it('requires url and enabled_events', async () => {
    const err = await rejection(
      h.stripe.webhookEndpoints.create({ url: 'http://127.0.0.1:1/x' } as Stripe.WebhookEndpointCreateParams),
    );
    expect(err.param).toBe('enabled_events');
  });
});
