import Stripe from 'stripe';
import { openInvoice, rejection, useHarness } from './helpers';

const h = useHarness();

describe('customers', () => {
  it('creates, retrieves, updates and lists customers with nested metadata', async () => {
    const created = await h.stripe.customers.create({
      email: 'a@example.com',
      name: 'A',
      metadata: { userId: 'u1', plan: 'pro' },
    });
    expect(created).toMatchObject({
      object: 'customer',
      email: 'a@example.com',
      metadata: { userId: 'u1', plan: 'pro' },
    });
    expect(created.id).toMatch(/^cus_/);

    const updated = await h.stripe.customers.update(created.id, { name: 'B', metadata: { plan: '', tier: '2' } });
    expect(updated.name).toBe('B');
    expect(updated.metadata).toEqual({ userId: 'u1', tier: '2' });

    const updatedEvents = await h.stripe.events.list({ type: 'customer.updated' });
    expect(updatedEvents.data[0].data.previous_attributes).toEqual({
      name: 'A',
      metadata: { userId: 'u1', plan: 'pro' },
    });

    const fetched = await h.stripe.customers.retrieve(created.id);
    expect(fetched).toMatchObject({ id: created.id, name: 'B' });

    const other = await h.stripe.customers.create({ email: 'other@example.com' });
    const byEmail = await h.stripe.customers.list({ email: 'a@example.com' });
    expect(byEmail.data.map((c) => c.id)).toEqual([created.id]);
    const page1 = await h.stripe.customers.list({ limit: 1 });
    expect(page1.data[0].id).toBe(other.id);
    expect(page1.has_more).toBe(true);
    const page2 = await h.stripe.customers.list({ limit: 1, starting_after: other.id });
    expect(page2.data[0].id).toBe(created.id);
  });

  it('answers 404 resource_missing for an unknown id', async () => {
    const err = await rejection(h.stripe.customers.retrieve('cus_missing'));
    expect(err.type).toBe('StripeInvalidRequestError');
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('resource_missing');
    expect(err.param).toBe('id');
    expect(err.message).toBe("No such customer: 'cus_missing'");
    expect(err.requestId).toMatch(/^req_/);
  });

  it('rejects unknown and missing parameters with 400', async () => {
    const unknown = await rejection(
      h.stripe.customers.create({ bogus: 'x' } as unknown as Stripe.CustomerCreateParams),
    );
    expect(unknown.statusCode).toBe(400);
    expect(unknown.code).toBe('parameter_unknown');
    const missing = await rejection(h.stripe.invoices.create({}));
    expect(missing.code).toBe('parameter_missing');
    expect(missing.param).toBe('customer');
  });
});

describe('invoice lifecycle', () => {
  it('create → items → finalize → pay evolves amounts, status and transitions', async () => {
    const customer = await h.stripe.customers.create({ email: 'life@example.com' });
    const draft = await h.stripe.invoices.create({
      customer: customer.id,
      collection_method: 'send_invoice',
      days_until_due: 30,
      currency: 'usd',
      metadata: { invoiceId: 'inv_1' },
      number: 'AH-2024-01-000001-20240101',
    });
    expect(draft).toMatchObject({
      status: 'draft',
      amount_due: 0,
      attempt_count: 0,
      hosted_invoice_url: null,
      number: 'AH-2024-01-000001-20240101',
    });

    await h.stripe.invoiceItems.create({
      customer: customer.id,
      invoice: draft.id,
      amount: 1000,
      currency: 'usd',
      description: 'Base',
    });
    const decimalItem = await h.stripe.invoiceItems.create({
      customer: customer.id,
      invoice: draft.id,
      quantity: 3,
      unit_amount_decimal: Stripe.Decimal.from('12.345'),
      currency: 'usd',
      description: 'Tokens',
      metadata: { priceBook: 'pb1' },
    });
    expect(decimalItem.amount).toBe(37); // 3 × 12.345 = 37.035 → 37
    expect(String(decimalItem.pricing?.unit_amount_decimal)).toBe('12.345');

    const withLines = await h.stripe.invoices.retrieve(draft.id);
    expect(withLines.lines.data).toHaveLength(2);
    expect(withLines.lines.data[1].metadata).toEqual({ priceBook: 'pb1' });
    expect(withLines).toMatchObject({ subtotal: 1037, total: 1037, amount_due: 1037, amount_remaining: 1037 });

    const open = await h.stripe.invoices.finalizeInvoice(draft.id);
    expect(open.status).toBe('open');
    expect(open.number).toBe('AH-2024-01-000001-20240101');
    expect(open.hosted_invoice_url).toMatch(new RegExp(`^${h.emulator.url}/i/`));
    expect(open.invoice_pdf).toMatch(/\/pdf$/);
    expect(open.status_transitions.finalized_at).toEqual(expect.any(Number));
    expect(open.due_date).toBe((open.status_transitions.finalized_at ?? 0) + 30 * 86400);

    const sent = await h.stripe.invoices.sendInvoice(open.id);
    expect(sent.status).toBe('open');

    const paid = await h.stripe.invoices.pay(open.id, { payment_method: 'pm_card_visa' });
    expect(paid).toMatchObject({
      status: 'paid',
      amount_paid: 1037,
      amount_remaining: 0,
      attempt_count: 1,
      attempted: true,
    });
    expect(paid.status_transitions.paid_at).toEqual(expect.any(Number));

    const payments = await h.stripe.invoicePayments.list({ invoice: open.id });
    expect(payments.data).toHaveLength(1);
    expect(payments.data[0]).toMatchObject({
      status: 'paid',
      amount_paid: 1037,
      is_default: true,
      payment: { type: 'payment_intent' },
    });

    const expanded = await h.stripe.invoices.retrieve(open.id, { expand: ['customer', 'payments'] });
    expect((expanded.customer as Stripe.Customer).email).toBe('life@example.com');
    expect(expanded.payments?.data[0].status).toBe('paid');

    const again = await rejection(h.stripe.invoices.pay(open.id, { payment_method: 'pm_card_visa' }));
    expect(again.statusCode).toBe(400);
  });

  it('numbers invoices from the customer prefix when no number is given', async () => {
    const inv = await openInvoice(h.stripe, 500);
    const customer = (await h.stripe.customers.retrieve(inv.customer as string)) as Stripe.Customer;
    expect(inv.number).toBe(`${customer.invoice_prefix}-0001`);
    expect(customer.next_invoice_sequence).toBe(2);
  });

  it('pulls pending items only with pending_invoice_items_behavior=include', async () => {
    const customer = await h.stripe.customers.create({});
    const pending = await h.stripe.invoiceItems.create({ customer: customer.id, amount: 700, currency: 'eur' });
    expect(pending.invoice).toBeNull();
    const excluded = await h.stripe.invoices.create({ customer: customer.id, currency: 'eur' });
    expect(excluded.lines.data).toHaveLength(0);
    const included = await h.stripe.invoices.create({
      customer: customer.id,
      currency: 'eur',
      pending_invoice_items_behavior: 'include',
    });
    expect(included.lines.data.map((l) => l.amount)).toEqual([700]);
    expect(included.amount_due).toBe(700);
  });

  it('handles zero-decimal currencies (jpy)', async () => {
    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({ customer: customer.id, currency: 'jpy' });
    await h.stripe.invoiceItems.create({
      customer: customer.id,
      invoice: draft.id,
      currency: 'jpy',
      quantity: 3,
      unit_amount_decimal: Stripe.Decimal.from('333.5'),
    });
    const open = await h.stripe.invoices.finalizeInvoice(draft.id);
    expect(open).toMatchObject({ currency: 'jpy', amount_due: 1001 });
    const page = await fetch(open.hosted_invoice_url ?? '');
    expect(await page.text()).toContain('¥1,001');
  });

  it('voids an open invoice and refuses to void a draft', async () => {
    const inv = await openInvoice(h.stripe);
    const voided = await h.stripe.invoices.voidInvoice(inv.id);
    expect(voided.status).toBe('void');
    expect(voided.status_transitions.voided_at).toEqual(expect.any(Number));
    const payErr = await rejection(h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' }));
    expect(payErr.statusCode).toBe(400);

    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    const err = await rejection(h.stripe.invoices.voidInvoice(draft.id));
    expect(err.statusCode).toBe(400);
    expect(err.type).toBe('StripeInvalidRequestError');
  });

  it('marks an open invoice uncollectible, which can still be paid', async () => {
    const inv = await openInvoice(h.stripe);
    const bad = await h.stripe.invoices.markUncollectible(inv.id);
    expect(bad.status).toBe('uncollectible');
    expect(bad.status_transitions.marked_uncollectible_at).toEqual(expect.any(Number));
    const paid = await h.stripe.invoices.pay(inv.id, { payment_method: 'pm_card_visa' });
    expect(paid.status).toBe('paid');
  });

  it('deletes drafts only', async () => {
    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    const deleted = await h.stripe.invoices.del(draft.id);
    expect(deleted).toEqual({ id: draft.id, object: 'invoice', deleted: true });
    expect((await rejection(h.stripe.invoices.retrieve(draft.id))).statusCode).toBe(404);

    const open = await openInvoice(h.stripe);
    const err = await rejection(h.stripe.invoices.del(open.id));
    expect(err.statusCode).toBe(400);
  });

  it('lists invoices by customer and status with pagination', async () => {
    const customer = await h.stripe.customers.create({});
    const a = await h.stripe.invoices.create({ customer: customer.id });
    const b = await h.stripe.invoices.create({ customer: customer.id });
    await h.stripe.invoiceItems.create({ customer: customer.id, invoice: b.id, amount: 100 });
    await h.stripe.invoices.finalizeInvoice(b.id);
    const drafts = await h.stripe.invoices.list({ customer: customer.id, status: 'draft' });
    expect(drafts.data.map((i) => i.id)).toEqual([a.id]);
    const all = await h.stripe.invoices.list({ customer: customer.id, limit: 1 });
    expect(all.data.map((i) => i.id)).toEqual([b.id]);
    expect(all.has_more).toBe(true);
    const next = await h.stripe.invoices.list({ customer: customer.id, limit: 1, starting_after: b.id });
    expect(next.data.map((i) => i.id)).toEqual([a.id]);
    expect(next.has_more).toBe(false);
  });

  it('finalizes a zero-amount invoice straight to paid', async () => {
    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    const inv = await h.stripe.invoices.finalizeInvoice(draft.id);
    expect(inv.status).toBe('paid');
  });
});
