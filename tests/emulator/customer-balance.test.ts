import type Stripe from 'stripe';
import { openInvoice, rejection, useHarness } from './helpers';

const h = useHarness();
beforeEach(() => h.control.reset());

/** A new open invoice of `amount` for an existing customer. */
async function nextInvoice(customer: string, amount: number, currency = 'usd'): Promise<Stripe.Invoice> {
  const draft = await h.stripe.invoices.create({ customer, currency });
  await h.stripe.invoiceItems.create({ customer, invoice: draft.id, amount, currency, description: 'Usage' });
  return h.stripe.invoices.finalizeInvoice(draft.id);
}

const ledger = async (customer: string) =>
  (await h.stripe.customers.listBalanceTransactions(customer)).data.map((t) => [t.type, t.amount, t.ending_balance]);

describe('an invoice below the minimum charge (0.50 USD)', () => {
  it('is not charged: marked paid at finalization, its amount carried to the customer balance and the next invoice', async () => {
    const small = await openInvoice(h.stripe, 30);
    const customer = small.customer as string;
    expect(small).toMatchObject({
      status: 'paid',
      total: 30,
      amount_due: 0,
      amount_paid: 0,
      amount_remaining: 0,
      starting_balance: 0,
      ending_balance: 30,
    });
    expect(await ledger(customer)).toEqual([['invoice_too_small', 30, 30]]);
    const [txn] = (await h.stripe.customers.listBalanceTransactions(customer)).data;
    expect(txn).toMatchObject({ object: 'customer_balance_transaction', invoice: small.id, currency: 'usd' });
    expect(await h.stripe.customers.retrieveBalanceTransaction(customer, txn.id)).toEqual(txn);
    expect(((await h.stripe.customers.retrieve(customer)) as Stripe.Customer).balance).toBe(30);
    // Nothing was charged, and no PaymentIntent asked for it.
    expect((await h.stripe.charges.list({ customer })).data).toEqual([]);
    expect((await h.stripe.paymentIntents.list({ customer })).data).toEqual([]);
    const types = (await h.stripe.events.list({ limit: 100 })).data.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['invoice.paid', 'customer.updated']));
    expect(await rejection(h.stripe.invoices.pay(small.id, { payment_method: 'pm_card_visa' }))).toMatchObject({
      code: 'invoice_already_paid',
    });

    // The next invoice takes it in: 25.00 + 0.30 is due, and paid; the balance is back to 0.
    const next = await nextInvoice(customer, 2500);
    expect(next).toMatchObject({ total: 2500, starting_balance: 30, ending_balance: 0, amount_due: 2530 });
    const paid = await h.stripe.invoices.pay(next.id, { payment_method: 'pm_card_visa' });
    expect(paid).toMatchObject({ status: 'paid', amount_paid: 2530 });
    expect((await h.stripe.charges.list({ customer })).data.map((c) => c.amount)).toEqual([2530]);
    expect(await ledger(customer)).toEqual([
      ['applied_to_invoice', -30, 0],
      ['invoice_too_small', 30, 30],
    ]);
    expect(((await h.stripe.customers.retrieve(customer)) as Stripe.Customer).balance).toBe(0);
  });

  it('carries two small invoices until they are worth charging, and leaves currencies without a fixed minimum alone', async () => {
    const first = await openInvoice(h.stripe, 20);
    const customer = first.customer as string;
    const second = await nextInvoice(customer, 25);
    // 0.25 + the 0.20 carried = 0.45: still too small, carried again.
    expect(second).toMatchObject({ status: 'paid', starting_balance: 20, amount_due: 0, ending_balance: 45 });
    const third = await nextInvoice(customer, 10);
    expect(third).toMatchObject({ status: 'open', starting_balance: 45, amount_due: 55, ending_balance: 0 });

    const kwd = await openInvoice(h.stripe, 5, 'kwd');
    expect(kwd).toMatchObject({ status: 'open', amount_due: 5 });
  });
});

describe('customer balance transactions', () => {
  it('records a credit note credit, applies it to the next invoice, and gives it back when the note is voided', async () => {
    const invoice = await openInvoice(h.stripe, 2500);
    const customer = invoice.customer as string;
    await h.stripe.invoices.pay(invoice.id, { payment_method: 'pm_card_visa' });
    const note = await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 500, credit_amount: 500 });
    const [credit] = (await h.stripe.customers.listBalanceTransactions(customer)).data;
    expect(credit).toMatchObject({
      id: note.customer_balance_transaction,
      type: 'credit_note',
      amount: -500,
      ending_balance: -500,
      credit_note: note.id,
      invoice: invoice.id,
    });
    await h.stripe.creditNotes.voidCreditNote(note.id);
    expect(((await h.stripe.customers.retrieve(customer)) as Stripe.Customer).balance).toBe(0);
    const again = await h.stripe.creditNotes.create({ invoice: invoice.id, amount: 500, credit_amount: 500 });
    expect(again.customer_balance_transaction).toMatch(/^cbtxn_/);

    // A credit larger than the next invoice pays it and keeps the rest.
    const next = await nextInvoice(customer, 300);
    expect(next).toMatchObject({ status: 'paid', starting_balance: -500, amount_due: 0, ending_balance: -200 });
    expect((await ledger(customer))[0]).toEqual(['applied_to_invoice', 300, -200]);
    expect((await h.stripe.customers.listBalanceTransactions(customer, { invoice: next.id })).data).toHaveLength(1);
  });

  it('takes adjustments, and answers 404 for a transaction of another customer', async () => {
    const a = await h.stripe.customers.create({});
    const b = await h.stripe.customers.create({});
    const txn = await h.stripe.customers.createBalanceTransaction(a.id, { amount: -700, currency: 'usd' });
    expect(txn).toMatchObject({ type: 'adjustment', amount: -700, ending_balance: -700, customer: a.id });
    expect(await rejection(h.stripe.customers.retrieveBalanceTransaction(b.id, txn.id))).toMatchObject({
      statusCode: 404,
    });
    const next = await nextInvoice(a.id, 1000);
    expect(next).toMatchObject({ starting_balance: -700, amount_due: 300, ending_balance: 0 });
  });
});
