import Stripe from 'stripe';
import { openInvoice, rejection, useHarness } from './helpers';

/** Refunds and credit notes of the local Stripe, through the real SDK (every exchange checked by the fidelity guard). */

const h = useHarness({ webhookSecret: 'whsec_refunds' });

async function paidInvoice(amount: number): Promise<{ invoice: Stripe.Invoice; charge: Stripe.Charge }> {
  const open = await openInvoice(h.stripe, amount);
  const invoice = await h.stripe.invoices.pay(open.id, { payment_method: 'pm_card_visa' });
  const charges = await h.stripe.charges.list({ customer: invoice.customer as string });
  return { invoice, charge: charges.data[0] };
}

/** Types of the events about `objectId`, oldest first. */
async function eventsAbout(objectId: string): Promise<string[]> {
  const events = await h.stripe.events.list({ limit: 100 });
  return events.data
    .filter((e) => (e.data.object as { id?: string }).id === objectId)
    .map((e) => e.type)
    .reverse();
}

describe('refunds', () => {
  it('refunds a charge in parts, never beyond what was captured, with the charge and events following', async () => {
    const { charge } = await paidInvoice(1000);
    const first = await h.stripe.refunds.create({ charge: charge.id, amount: 400, reason: 'requested_by_customer' });
    expect(first).toMatchObject({
      object: 'refund',
      amount: 400,
      charge: charge.id,
      payment_intent: charge.payment_intent,
      currency: 'usd',
      status: 'succeeded',
      reason: 'requested_by_customer',
    });
    expect(await h.stripe.refunds.retrieve(first.id)).toEqual(first);
    let after = await h.stripe.charges.retrieve(charge.id);
    expect(after).toMatchObject({ amount_refunded: 400, refunded: false });

    const tooMuch = await rejection(h.stripe.refunds.create({ charge: charge.id, amount: 601 }));
    expect(tooMuch).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
    expect(tooMuch.message).toBe('Refund amount ($6.01) is greater than unrefunded amount on charge ($6.00)');

    // By PaymentIntent, without an amount: what is left.
    const rest = await h.stripe.refunds.create({ payment_intent: charge.payment_intent as string });
    expect(rest.amount).toBe(600);
    after = await h.stripe.charges.retrieve(charge.id);
    expect(after).toMatchObject({ amount_refunded: 1000, refunded: true });
    const again = await rejection(h.stripe.refunds.create({ charge: charge.id }));
    expect(again).toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });

    const listed = await h.stripe.refunds.list({ charge: charge.id });
    expect(listed.data.map((r) => r.id)).toEqual([rest.id, first.id]);
    expect(await eventsAbout(first.id)).toEqual(['refund.created']);
    expect((await eventsAbout(charge.id)).filter((t) => t === 'charge.refunded')).toHaveLength(2);
    const refunded = (await h.stripe.events.list({ type: 'charge.refunded', limit: 1 })).data[0];
    expect(refunded.data.previous_attributes).toEqual({ amount_refunded: 400, refunded: false });

    const updated = await h.stripe.refunds.update(first.id, { metadata: { ticket: 'T-1' } });
    expect(updated.metadata).toEqual({ ticket: 'T-1' });
    expect(await eventsAbout(first.id)).toEqual(['refund.created', 'refund.updated']);
  });

  it('replays a refund for the same idempotency key and refuses a refund of an unpaid intent', async () => {
    const { charge } = await paidInvoice(800);
    const key = `refund-${charge.id}`;
    const a = await h.stripe.refunds.create({ charge: charge.id, amount: 300 }, { idempotencyKey: key });
    const b = await h.stripe.refunds.create({ charge: charge.id, amount: 300 }, { idempotencyKey: key });
    expect(b.id).toBe(a.id);
    expect((await h.stripe.charges.retrieve(charge.id)).amount_refunded).toBe(300);

    const open = await openInvoice(h.stripe, 500);
    const inv = await h.stripe.invoices.retrieve(open.id, { expand: ['payments.data.payment.payment_intent'] });
    const pi = inv.payments?.data[0].payment.payment_intent as Stripe.PaymentIntent;
    const err = await rejection(h.stripe.refunds.create({ payment_intent: pi.id }));
    expect(err).toMatchObject({ statusCode: 400, code: 'charge_not_refundable' });
    expect(await rejection(h.stripe.refunds.create({}))).toMatchObject({ statusCode: 400 });
  });
});

describe('credit notes', () => {
  it('lowers what an open invoice asks for, by lines or amount, numbered after the invoice; a void gives it back', async () => {
    const open = await openInvoice(h.stripe, 2500);
    const line = open.lines.data[0];
    const preview = await h.stripe.creditNotes.preview({
      invoice: open.id,
      lines: [{ type: 'invoice_line_item', invoice_line_item: line.id, amount: 1000 }],
    });
    expect(preview).toMatchObject({ amount: 1000, type: 'pre_payment', status: 'issued' });
    expect((await h.stripe.invoices.retrieve(open.id)).amount_due).toBe(2500);

    const cn = await h.stripe.creditNotes.create({
      invoice: open.id,
      lines: [{ type: 'invoice_line_item', invoice_line_item: line.id, amount: 1000 }],
      reason: 'order_change',
      memo: 'Minutes billed twice',
    });
    expect(cn).toMatchObject({
      object: 'credit_note',
      amount: 1000,
      total: 1000,
      pre_payment_amount: 1000,
      post_payment_amount: 0,
      type: 'pre_payment',
      reason: 'order_change',
      number: `${open.number}-CN-01`,
      invoice: open.id,
    });
    expect(cn.lines.data[0]).toMatchObject({ type: 'invoice_line_item', invoice_line_item: line.id, amount: 1000 });
    let inv = await h.stripe.invoices.retrieve(open.id);
    expect(inv).toMatchObject({
      status: 'open',
      total: 2500,
      amount_due: 1500,
      amount_remaining: 1500,
      pre_payment_credit_notes_amount: 1000,
    });

    const more = await rejection(h.stripe.creditNotes.create({ invoice: open.id, amount: 1501 }));
    expect(more).toMatchObject({ statusCode: 400, param: 'amount' });
    const lineOver = await rejection(
      h.stripe.creditNotes.create({
        invoice: open.id,
        lines: [{ type: 'invoice_line_item', invoice_line_item: line.id, amount: 1501 }],
      }),
    );
    expect(lineOver).toMatchObject({ statusCode: 400, param: 'lines[0][amount]' });

    const second = await h.stripe.creditNotes.create({ invoice: open.id, amount: 500 });
    expect(second.number).toBe(`${open.number}-CN-02`);
    const listed = await h.stripe.creditNotes.list({ invoice: open.id });
    expect(listed.data.map((c) => c.id)).toEqual([second.id, cn.id]);

    const voided = await h.stripe.creditNotes.voidCreditNote(second.id);
    expect(voided).toMatchObject({ status: 'void' });
    expect(voided.voided_at).not.toBeNull();
    inv = await h.stripe.invoices.retrieve(open.id);
    expect(inv).toMatchObject({ amount_due: 1500, pre_payment_credit_notes_amount: 1000 });
    expect(await rejection(h.stripe.creditNotes.voidCreditNote(second.id))).toMatchObject({ statusCode: 400 });

    // What is left is what the card pays.
    const paid = await h.stripe.invoices.pay(open.id, { payment_method: 'pm_card_visa' });
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 1500, amount_remaining: 0 });
    const charge = (await h.stripe.charges.list({ customer: open.customer as string })).data[0];
    expect(charge.amount).toBe(1500);

    expect(await eventsAbout(cn.id)).toEqual(['credit_note.created']);
    expect(await eventsAbout(second.id)).toEqual(['credit_note.created', 'credit_note.voided']);
    const updates = (await h.stripe.events.list({ type: 'invoice.updated', limit: 100 })).data.filter(
      (e) => (e.data.object as Stripe.Invoice).id === open.id,
    );
    expect(updates.some((e) => (e.data.previous_attributes as Partial<Stripe.Invoice>)?.amount_due === 2500)).toBe(
      true,
    );
  });

  it('a credit note for all that is due marks the invoice paid', async () => {
    const open = await openInvoice(h.stripe, 700);
    await h.stripe.creditNotes.create({ invoice: open.id, amount: 700 });
    expect(await h.stripe.invoices.retrieve(open.id)).toMatchObject({
      status: 'paid',
      amount_due: 0,
      amount_paid: 0,
      amount_remaining: 0,
      pre_payment_credit_notes_amount: 700,
    });
  });

  it('on a paid invoice refunds the charge or credits the balance, never beyond what was paid', async () => {
    const { invoice, charge } = await paidInvoice(3000);
    const cn = await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 1200, refund_amount: 1200 });
    expect(cn).toMatchObject({ type: 'post_payment', post_payment_amount: 1200, pre_payment_amount: 0 });
    expect(cn.refunds).toHaveLength(1);
    const refund = await h.stripe.refunds.retrieve(cn.refunds[0].refund as string);
    expect(refund).toMatchObject({ amount: 1200, charge: charge.id, status: 'succeeded' });
    expect(await h.stripe.charges.retrieve(charge.id)).toMatchObject({ amount_refunded: 1200, refunded: false });
    expect(await h.stripe.invoices.retrieve(invoice.id)).toMatchObject({
      status: 'paid',
      amount_paid: 3000,
      post_payment_credit_notes_amount: 1200,
    });

    const credit = await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 800, credit_amount: 800 });
    expect(credit.customer_balance_transaction).toMatch(/^cbtxn_/);
    expect((await h.stripe.customers.retrieve(invoice.customer as string)) as Stripe.Customer).toMatchObject({
      balance: -800,
    });

    const over = await rejection(
      h.stripe.creditNotes.create({ invoice: invoice.id, amount: 1001, refund_amount: 1001 }),
    );
    expect(over).toMatchObject({ statusCode: 400, param: 'amount' });
    const mismatch = await rejection(
      h.stripe.creditNotes.create({ invoice: invoice.id, amount: 500, refund_amount: 400 }),
    );
    expect(mismatch).toMatchObject({ statusCode: 400, param: 'refund_amount' });
    expect(await rejection(h.stripe.creditNotes.voidCreditNote(cn.id))).toMatchObject({ statusCode: 400 });

    // A refund made on its own is linked to a note afterwards.
    const direct = await h.stripe.refunds.create({ charge: charge.id, amount: 1000 });
    const linked = await h.stripe.creditNotes.create({
      invoice: invoice.id,
      amount: 1000,
      refunds: [{ refund: direct.id, amount_refunded: 1000 }],
    });
    expect(linked.refunds).toEqual([
      { amount_refunded: 1000, payment_record_refund: null, refund: direct.id, type: 'refund' },
    ]);
    expect((await h.stripe.charges.retrieve(charge.id)).amount_refunded).toBe(2200);
    expect((await h.stripe.invoices.retrieve(invoice.id)).post_payment_credit_notes_amount).toBe(3000);

    const updated = await h.stripe.creditNotes.update(cn.id, { memo: 'Refunded on request' });
    expect(updated.memo).toBe('Refunded on request');
    expect(await eventsAbout(cn.id)).toEqual(['credit_note.created', 'credit_note.updated']);
  });

  it('refuses drafts and replays an idempotent create', async () => {
    const customer = await h.stripe.customers.create({ email: 'cn@example.com' });
    const draft = await h.stripe.invoices.create({ customer: customer.id, currency: 'usd' });
    expect(await rejection(h.stripe.creditNotes.create({ invoice: draft.id, amount: 1 }))).toMatchObject({
      statusCode: 400,
      code: 'invoice_not_editable',
    });
    const open = await openInvoice(h.stripe, 900);
    const key = `cn-${open.id}`;
    const a = await h.stripe.creditNotes.create({ invoice: open.id, amount: 100 }, { idempotencyKey: key });
    const b = await h.stripe.creditNotes.create({ invoice: open.id, amount: 100 }, { idempotencyKey: key });
    expect(b.id).toBe(a.id);
    expect((await h.stripe.invoices.retrieve(open.id)).amount_due).toBe(800);
  });
});

describe('the credit note PDF (credit_note.pdf)', () => {
  const text = async (url: string): Promise<{ status: number; type: string | null; body: string }> => {
    const res = await fetch(url);
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: Buffer.from(await res.arrayBuffer()).toString('latin1'),
    };
  };

  it('lists its lines with quantity, unit price and amount, the total, and where the money went', async () => {
    const customer = await h.stripe.customers.create({ name: 'Ada' });
    const draft = await h.stripe.invoices.create({ customer: customer.id, currency: 'usd' });
    await h.stripe.invoiceItems.create({
      customer: customer.id,
      invoice: draft.id,
      currency: 'usd',
      quantity: 1190,
      unit_amount_decimal: Stripe.Decimal.from('2'),
      description: 'Agent runtime minutes',
    });
    await h.stripe.invoiceItems.create({
      customer: customer.id,
      invoice: draft.id,
      amount: 500,
      description: 'Support',
    });
    await h.stripe.invoices.finalizeInvoice(draft.id);
    const invoice = await h.stripe.invoices.pay(draft.id, { payment_method: 'pm_card_visa' });
    const [minutes, support] = invoice.lines.data;
    const note = await h.stripe.creditNotes.create({
      invoice: invoice.id,
      lines: [
        { type: 'invoice_line_item', invoice_line_item: minutes.id, quantity: 100 },
        { type: 'invoice_line_item', invoice_line_item: support.id, amount: 500 },
        { type: 'custom_line_item', description: 'Goodwill', unit_amount: 150, quantity: 2 },
      ],
      refund_amount: 500,
      credit_amount: 300,
      out_of_band_amount: 200,
      memo: 'Outage on the 3rd',
    });
    expect(note.pdf).toMatch(/\/credit_note\/.+\/pdf$/);
    const pdf = await text(note.pdf);
    expect(pdf).toMatchObject({ status: 200, type: expect.stringMatching(/^application\/pdf/) });
    expect(pdf.body.startsWith('%PDF-1.4')).toBe(true);
    expect(pdf.body).toContain(`Credit note ${note.number}`);
    expect(pdf.body).toContain('Agent runtime minutes  100 x USD 0.02  USD 2.00');
    expect(pdf.body).toContain('Support  1 x USD 5.00  USD 5.00');
    expect(pdf.body).toContain('Goodwill  2 x USD 1.50  USD 3.00');
    expect(pdf.body).toContain('Total credited: USD 10.00');
    expect(pdf.body).toContain('Refunded to the card: USD 5.00');
    expect(pdf.body).toContain('Credited to the customer balance: USD 3.00');
    expect(pdf.body).toContain('Settled outside Stripe: USD 2.00');
    expect(pdf.body).toContain('Memo: Outage on the 3rd');

    // Another invoice's token does not open it.
    const other = await openInvoice(h.stripe, 900);
    const token = (other.invoice_pdf ?? '').split('/invoice/')[1].split('/pdf')[0];
    expect((await text(note.pdf.replace(/\/credit_note\/[^/]+\//, `/credit_note/${token}/`))).status).toBe(404);
  });

  it('says a pre-payment note was taken off the amount due', async () => {
    const open = await openInvoice(h.stripe, 2500);
    const note = await h.stripe.creditNotes.create({ invoice: open.id, amount: 700 });
    const pdf = await text(note.pdf);
    expect(pdf.body).toContain('1 x USD 7.00  USD 7.00');
    expect(pdf.body).toContain('Taken off the amount due: USD 7.00');
  });
});
