import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Stripe from 'stripe';
import { optionsFrom } from '../../emulator/main';
import { startEmulator } from '../../emulator/server';
import { openInvoice, rejection, stripeClient } from './helpers';

describe('state file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'stripe-emulator-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps customers, invoices, events and hosted pages across a restart', async () => {
    const stateFile = path.join(dir, 'state.json');
    const first = await startEmulator({ stateFile });
    const inv = await openInvoice(stripeClient(first), 4321);
    await first.stop();

    const second = await startEmulator({ stateFile });
    try {
      const stripe = stripeClient(second);
      const again = await stripe.invoices.retrieve(inv.id);
      expect(again).toMatchObject({ status: 'open', amount_due: 4321, number: inv.number });
      const events = await stripe.events.list({ type: 'invoice.finalized' });
      expect(events.data.map((e) => (e.data.object as Stripe.Invoice).id)).toEqual([inv.id]);
      const hostedPath = new URL(inv.hosted_invoice_url ?? '').pathname;
      expect((await fetch(`${second.url}${hostedPath}`)).status).toBe(200);
      const paid = await stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' });
      expect(paid.status).toBe('paid');
    } finally {
      await second.stop();
    }
  });
});

describe('CLI options', () => {
  it('reads flags, then environment fallbacks, with defaults', () => {
    expect(optionsFrom([], {})).toMatchObject({ port: 12111, host: '127.0.0.1' });
    expect(
      optionsFrom(['--port', '0', '--webhook-url=http://127.0.0.1:8000/api/v1/webhooks/stripe', '--rate-limit', '25'], {
        STRIPE_WEBHOOK_SECRET: 'whsec_env',
        STRIPE_EMULATOR_STATE_FILE: '.data/stripe.json',
      }),
    ).toEqual({
      port: 0,
      host: '127.0.0.1',
      webhookUrl: 'http://127.0.0.1:8000/api/v1/webhooks/stripe',
      webhookSecret: 'whsec_env',
      rateLimit: 25,
      stateFile: '.data/stripe.json',
      publicBaseUrl: undefined,
      delivery: undefined,
    });
    expect(optionsFrom(['--delivery', 'realistic', '--delivery-seed', '42'], {}).delivery).toEqual({
      profile: 'realistic',
      seed: 42,
    });
    expect(optionsFrom([], { STRIPE_EMULATOR_DELIVERY: 'realistic' }).delivery).toMatchObject({
      profile: 'realistic',
      seed: expect.any(Number),
    });
    expect(() => optionsFrom(['--delivery', 'chaotic'], {})).toThrow('--delivery must be ideal or realistic');
    expect(() => optionsFrom(['--bogus', '1'], {})).toThrow('Unknown argument: --bogus');
    expect(() => optionsFrom(['--port', 'abc'], {})).toThrow('--port');
  });
});

describe('invoice updates', () => {
  it('updates drafts (metadata, days_until_due) and only metadata once paid', async () => {
    const emu = await startEmulator();
    try {
      const stripe = stripeClient(emu);
      const customer = await stripe.customers.create({});
      const draft = await stripe.invoices.create({
        customer: customer.id,
        collection_method: 'send_invoice',
        days_until_due: 10,
      });
      const updated = await stripe.invoices.update(draft.id, {
        metadata: { a: '1' },
        days_until_due: 20,
        description: 'May',
      });
      expect(updated).toMatchObject({ metadata: { a: '1' }, description: 'May', due_date: draft.created + 20 * 86400 });
      const events = await stripe.events.list({ type: 'invoice.updated' });
      expect(events.data[0].data.previous_attributes).toMatchObject({ description: null, metadata: {} });

      await stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 100 });
      const open = await stripe.invoices.finalizeInvoice(draft.id);
      expect(open.due_date).toBe((open.status_transitions.finalized_at ?? 0) + 20 * 86400);
      const addLate = await rejection(
        stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 100 }),
      );
      expect(addLate.statusCode).toBe(400);
      await stripe.invoices.pay(draft.id, { payment_method: 'pm_card_visa' });
      const err = await rejection(stripe.invoices.update(draft.id, { description: 'June' }));
      expect(err.statusCode).toBe(400);
      expect((await stripe.invoices.update(draft.id, { metadata: { b: '2' } })).metadata).toEqual({ a: '1', b: '2' });
    } finally {
      await emu.stop();
    }
  });
});
