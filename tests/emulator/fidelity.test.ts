import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Stripe from 'stripe';
import { FidelityGuard, fidelity } from '../../emulator/fidelity/guard';
import { ROOT } from '../helpers/build';
import { openInvoice, rejection, useHarness } from './helpers';

/**
 * The fidelity guard itself: what it finds, and what the local Stripe does with a response that breaks the SDK's
 * schemas. (Every other test runs with the guard on: tests/setup/fidelity.ts.)
 */
const guard = new FidelityGuard();

/** As it crossed the wire: the SDK turns decimal strings into `Decimal` objects. */
const wire = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

const h = useHarness({ fidelityGuard: true });

describe('fidelity guard', () => {
  it('checks a body by its object field, lists item by item, and knows no object it has no schema for', async () => {
    const invoice = wire(await openInvoice(h.stripe, 1200)) as Stripe.Invoice;
    expect(guard.checkObject(invoice)).toEqual([]);

    const { taxes: _taxes, ...line } = invoice.lines.data[0];
    const broken = { ...invoice, status: 'pending', lines: { ...invoice.lines, data: [line] }, surprise: 1 };
    expect(guard.checkObject(broken)).toEqual(
      expect.arrayContaining([
        "(top): must NOT have additional properties 'surprise'",
        "/lines/data/0: must have required property 'taxes'",
      ]),
    );
    expect(guard.checkObject(broken)).toContain(
      '/status: must be one of "draft", "open", "paid", "uncollectible", "void"',
    );

    const list = wire(await h.stripe.invoices.list({ limit: 3 })) as Stripe.ApiList<Stripe.Invoice>;
    expect(guard.checkObject(list)).toEqual([]);
    expect(guard.checkObject({ ...list, data: [{ ...invoice, id: 5 }] })).toEqual(['/data/0/id: must be string']);
    expect(guard.checkObject({ object: 'balance', available: [] })).toEqual([
      expect.stringContaining('(top): no schema for object "balance"'),
    ]);
    expect(guard.checkObject({ ...invoice, object: undefined })).toEqual(['(top): no `object` field']);
  });

  it('checks an event: its envelope, the object its type carries and its previous attributes', async () => {
    const customer = await h.stripe.customers.create({ email: 'a@example.com' });
    await h.stripe.customers.update(customer.id, { email: 'b@example.com' });
    const [event] = (await h.stripe.events.list({ type: 'customer.updated', limit: 1 })).data;
    // A plain record: spreading `Stripe.Event`, a union of 275 event types, is more than the type checker can bear.
    const updated = wire(event) as { type: string; data: { previous_attributes?: unknown } };
    expect(guard.checkObject(updated)).toEqual([]);
    expect(updated.data.previous_attributes).toEqual({ email: 'a@example.com' });

    const wrongCarrier = { ...updated, type: 'invoice.paid' };
    expect(guard.checkObject(wrongCarrier)).toEqual(
      expect.arrayContaining(["/data/object: must have required property 'amount_due'"]),
    );
    const badPrevious = { ...updated, data: { ...updated.data, previous_attributes: { email: 42 } } };
    expect(guard.checkObject(badPrevious)).toEqual(['/data/previous_attributes/email: must be string,null']);
    expect(guard.checkObject({ ...updated, type: 'customer.vanished' })).toEqual(
      expect.arrayContaining(['/type: unknown event type customer.vanished']),
    );
  });

  it('checks an error body, with the full PaymentIntent a decline carries', async () => {
    const invoice = await openInvoice(h.stripe, 1500);
    const err = await rejection(h.stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_chargeDeclined' }));
    const intent = err.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'requires_payment_method',
      latest_charge: err.charge,
      last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' },
    });
    expect(intent.last_payment_error?.payment_method?.id).toBe('pm_card_chargeDeclined');
    const raw = wire(err.raw) as Record<string, unknown>;
    const body = JSON.stringify({ error: { ...raw, payment_intent: { id: intent.id, object: 'payment_intent' } } });
    expect(guard.checkResponse(402, body)).toEqual(
      expect.arrayContaining(["/error/payment_intent: must have required property 'amount'"]),
    );
  });

  it('answers 500 naming the violation when a response breaks the schemas, and records it for the test', async () => {
    const invoice = await openInvoice(h.stripe, 900);
    const stored = h.emulator.emulator.state.invoices.get(invoice.id) as unknown as Record<string, unknown>;
    delete stored.amount_due;
    const err = await rejection(h.stripe.invoices.retrieve(invoice.id));
    expect(err.statusCode).toBe(500);
    expect(err.message).toContain(`GET /v1/invoices/${invoice.id} → 200 breaks the stripe SDK's schemas`);
    expect(err.message).toContain("must have required property 'amount_due'");
    // The test setup would fail this test with it; taken here, as this test made it on purpose.
    expect(fidelity.take()).toEqual([
      {
        where: `GET /v1/invoices/${invoice.id} → 200`,
        errors: ["(top): must have required property 'amount_due'"],
        test: expect.stringContaining('answers 500 naming the violation'),
      },
    ]);
  });
});

describe('the committed schemas', () => {
  it('were generated from the installed stripe package (npm run stripe:schemas after an upgrade)', () => {
    const manifest = path.join(ROOT, 'node_modules/stripe/package.json');
    const installed = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
    expect(guard.stripeVersion).toBe(installed);
  });
});
