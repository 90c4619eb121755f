import Stripe from 'stripe';
import { formatMoney } from '../../src/config/currencies';
import { ManualClock } from '../helpers/clock';
import { rejection, stripeClient, TEST_KEY, useHarness } from './helpers';

// The emulator's time (its rate limit's one-second window) moves only when a test moves it.
const clock = new ManualClock();

const h = useHarness({ clock });
beforeEach(async () => {
  await h.control.reset();
  await h.control.setRateLimit(null);
});

/** A draft of `currency` for a new customer. */
async function draftFor(currency: string): Promise<{ customer: string; invoice: string }> {
  const customer = await h.stripe.customers.create({ name: 'Ada' });
  const draft = await h.stripe.invoices.create({ customer: customer.id, currency });
  return { customer: customer.id, invoice: draft.id };
}

/** Finalizes a draft carrying one item of `amount`. */
async function openWith(amount: number, currency: string): Promise<Stripe.Invoice> {
  const { customer, invoice } = await draftFor(currency);
  await h.stripe.invoiceItems.create({ customer, invoice, amount, currency, description: 'Usage' });
  return h.stripe.invoices.finalizeInvoice(invoice);
}

describe('currencies (the one table, src/config/currencies.ts)', () => {
  it('refuses a currency Stripe does not support, naming the param', async () => {
    const customer = await h.stripe.customers.create({});
    const err = await rejection(h.stripe.invoices.create({ customer: customer.id, currency: 'xyz' }));
    expect(err).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, param: 'currency' });
    expect(err.message).toMatch(/^Invalid currency: xyz\. Stripe currently supports these currencies: usd, aed,/);
    const item = await rejection(
      h.stripe.invoiceItems.create({ customer: customer.id, amount: 100, currency: 'xyz', description: 'x' }),
    );
    expect(item).toMatchObject({ statusCode: 400, param: 'currency' });
  });

  it('accepts upper case and three-decimal currencies', async () => {
    const customer = await h.stripe.customers.create({});
    expect((await h.stripe.invoices.create({ customer: customer.id, currency: 'KWD' })).currency).toBe('kwd');
  });
});

describe('e-mail addresses', () => {
  it.each(['not-an-email', 'a@b', 'two words@example.com', `${'x'.repeat(510)}@example.com`])(
    'refuses %p with email_invalid',
    async (email) => {
      const err = await rejection(h.stripe.customers.create({ email }));
      expect(err).toMatchObject({ statusCode: 400, code: 'email_invalid', param: 'email' });
      expect(err.message).toBe(`Invalid email address: ${email}`);
    },
  );

  it('checks an update too, and lets an empty value clear the address', async () => {
    const customer = await h.stripe.customers.create({ email: 'ada@example.com' });
    const err = await rejection(h.stripe.customers.update(customer.id, { email: 'nope' }));
    expect(err).toMatchObject({ code: 'email_invalid', param: 'email' });
    expect((await h.stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
      email: 'ada@example.com',
    });
    expect((await h.stripe.customers.update(customer.id, { email: '' })).email).toBeNull();
  });
});

describe('the Stripe-Version header', () => {
  const withVersion = (apiVersion: string) =>
    new Stripe(TEST_KEY, { ...h.emulator.stripeConfig, maxNetworkRetries: 0, apiVersion } as Stripe.StripeConfig);

  it.each(['2020-08-27', '2024-06-20', 'latest', '2026-10-28.acacia'])('refuses %p', async (version) => {
    const err = await rejection(withVersion(version).customers.list());
    expect(err).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400 });
    expect(err.message).toMatch(new RegExp(`^Invalid Stripe API version: ${version.replace('.', '\\.')}`));
  });

  it('accepts the pinned version, with beta flags, and no header at all', async () => {
    await expect(withVersion('2026-10-28.endive').customers.list()).resolves.toMatchObject({ object: 'list' });
    await expect(withVersion('2026-10-28.endive; some_beta=v1').customers.list()).resolves.toMatchObject({
      object: 'list',
    });
    const bare = await fetch(`${h.emulator.apiBase}/customers`, { headers: { Authorization: `Bearer ${TEST_KEY}` } });
    expect(bare.status).toBe(200);
  });
});

describe('amount limits', () => {
  it('refuses an item of more than Stripe charges (amount_too_large), by amount or by quantity × unit', async () => {
    const { customer, invoice } = await draftFor('usd');
    const err = await rejection(
      h.stripe.invoiceItems.create({ customer, invoice, amount: 900_719_925_474_099, currency: 'usd' }),
    );
    expect(err).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
    expect(err.message).toBe('Amount must be no more than $999,999.99');
    const product = await rejection(
      h.stripe.invoiceItems.create({
        customer,
        invoice,
        currency: 'usd',
        quantity_decimal: Stripe.Decimal.from('1000000'),
        unit_amount_decimal: Stripe.Decimal.from('100'),
      }),
    );
    expect(product).toMatchObject({ code: 'amount_too_large', param: 'unit_amount_decimal' });
    // 99,999,999 cents is the largest item; a credit of that size too.
    await h.stripe.invoiceItems.create({ customer, invoice, amount: 99_999_999, currency: 'usd' });
    await h.stripe.invoiceItems.create({ customer, invoice, amount: -99_999_999, currency: 'usd' });
  });

  it('does not make payable an invoice of more than one payment can carry', async () => {
    const { customer, invoice } = await draftFor('usd');
    await h.stripe.invoiceItems.create({ customer, invoice, amount: 60_000_000, currency: 'usd' });
    await h.stripe.invoiceItems.create({ customer, invoice, amount: 60_000_000, currency: 'usd' });
    const err = await rejection(h.stripe.invoices.finalizeInvoice(invoice));
    expect(err).toMatchObject({ statusCode: 400, code: 'amount_too_large' });
    expect((await h.stripe.invoices.retrieve(invoice)).status).toBe('draft');
  });

  it.each([
    ['usd', 49, 'Amount must be at least $0.50 usd'],
    ['gbp', 29, 'Amount must be at least £0.30 gbp'],
    ['jpy', 49, 'Amount must be at least ¥50 jpy'],
    ['huf', 17_499, 'Amount must be at least HUF\u00a0175.00 huf'],
  ])(
    'does not charge %s %p, below the minimum: paid at finalization and carried to the balance; charges the minimum',
    async (currency, below, message) => {
      const small = await openWith(below, currency);
      expect(small).toMatchObject({ status: 'paid', amount_due: 0, amount_paid: 0, ending_balance: below });
      const least = await openWith(below + 1, currency);
      expect((await h.stripe.invoices.pay(least.id, { payment_method: 'pm_card_visa' })).status).toBe('paid');

      // What is left to pay after a pre-payment credit note can still fall below it: that payment is refused.
      const credited = await openWith(below + 100, currency);
      await h.stripe.creditNotes.create({ invoice: credited.id, amount: 101 });
      const err = await rejection(h.stripe.invoices.pay(credited.id, { payment_method: 'pm_card_visa' }));
      expect(err).toMatchObject({ statusCode: 400, code: 'amount_too_small', param: 'amount' });
      expect(err.message).toBe(message.replace('\u00a0', ' '));
      expect((await h.stripe.invoices.retrieve(credited.id)).status).toBe('open');
    },
  );

  it('has no fixed minimum where Stripe converts from 0.50 USD (KWD), and refuses on the hosted page too', async () => {
    const fils = await openWith(10, 'kwd');
    expect((await h.stripe.invoices.pay(fils.id, { payment_method: 'pm_card_visa' })).status).toBe('paid');

    const small = await openWith(600, 'usd');
    await h.stripe.creditNotes.create({ invoice: small.id, amount: 590 });
    const page = await fetch(`${small.hosted_invoice_url}/pay`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'card_number=4242424242424242&exp=12%2F34&cvc=123',
    });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('Amount must be at least $0.50 usd');
  });
});

describe('three-decimal currencies: a card amount ends in 0', () => {
  it.each(['kwd', 'bhd', 'jod', 'omr', 'tnd'])(
    'refuses to charge 1.234 %s (invalid_charge_amount), charges 1.230, and refunds only multiples of 10',
    async (currency) => {
      const odd = await openWith(1234, currency);
      const err = await rejection(h.stripe.invoices.pay(odd.id, { payment_method: 'pm_card_visa' }));
      expect(err).toMatchObject({ statusCode: 400, code: 'invalid_charge_amount', param: 'amount' });
      expect(err.message).toBe(
        `Invalid amount: 1234. Amounts in ${currency} must be divisible by 10 (the last digit must be 0): round it to 1230 or 1240. See https://stripe.com/docs/currencies#three-decimal for more information.`,
      );
      expect((await h.stripe.invoices.retrieve(odd.id)).attempt_count).toBe(0);

      const even = await openWith(1230, currency);
      const paid = await h.stripe.invoices.pay(even.id, { payment_method: 'pm_card_visa' });
      expect(paid).toMatchObject({ status: 'paid', amount_paid: 1230 });
      const [charge] = (await h.stripe.charges.list({ customer: even.customer as string })).data;
      expect(await rejection(h.stripe.refunds.create({ charge: charge.id, amount: 5 }))).toMatchObject({
        code: 'invalid_charge_amount',
      });
      expect((await h.stripe.refunds.create({ charge: charge.id, amount: 230 })).amount).toBe(230);
    },
  );
});

describe('items with quantity and unit_amount_decimal', () => {
  it('multiplies quantity_decimal × unit_amount_decimal, rounding once, and keeps both', async () => {
    const { customer, invoice } = await draftFor('usd');
    const minutes = await h.stripe.invoiceItems.create({
      customer,
      invoice,
      currency: 'usd',
      quantity_decimal: Stripe.Decimal.from('1190'),
      unit_amount_decimal: Stripe.Decimal.from('2'),
      description: 'Agent runtime minutes (1,250 used, 60 free)',
    });
    expect(minutes).toMatchObject({ amount: 2380, quantity: 1190 });
    expect(String(minutes.quantity_decimal)).toBe('1190');
    expect(String(minutes.pricing?.unit_amount_decimal)).toBe('2');
    // 12.5 GB-hours × 3 cents = 37.5 → 38; the integer quantity truncates.
    const storage = await h.stripe.invoiceItems.create({
      customer,
      invoice,
      currency: 'usd',
      quantity_decimal: Stripe.Decimal.from('12.5'),
      unit_amount_decimal: Stripe.Decimal.from('3'),
    });
    expect(storage).toMatchObject({ amount: 38, quantity: 12 });
    expect((await h.stripe.invoices.retrieve(invoice)).total).toBe(2418);
  });

  it('refuses quantity with quantity_decimal, a negative or malformed quantity_decimal, and quantity with amount', async () => {
    const { customer, invoice } = await draftFor('usd');
    const base = { customer, invoice, currency: 'usd', unit_amount_decimal: Stripe.Decimal.from('2') };
    expect(
      await rejection(
        h.stripe.invoiceItems.create({ ...base, quantity: 1, quantity_decimal: Stripe.Decimal.from('1') }),
      ),
    ).toMatchObject({ code: 'parameters_exclusive' });
    expect(
      await rejection(h.stripe.invoiceItems.create({ ...base, quantity_decimal: Stripe.Decimal.from('-1') })),
    ).toMatchObject({ param: 'quantity_decimal' });
    expect(
      await rejection(
        h.stripe.invoiceItems.create({
          customer,
          invoice,
          currency: 'usd',
          amount: 100,
          quantity_decimal: Stripe.Decimal.from('2'),
        }),
      ),
    ).toMatchObject({ param: 'quantity_decimal' });
  });
});

describe('the hosted page and the PDF', () => {
  it('write three-decimal amounts in fils (1234 fils = KWD 1.234) and zero-decimal ones in yen', async () => {
    const kwd = await openWith(1234, 'kwd');
    const page = await (await fetch(kwd.hosted_invoice_url ?? '')).text();
    expect(page).toContain('KWD 1.234');
    expect(page).not.toContain('12.34');
    const pdf = Buffer.from(await (await fetch(kwd.invoice_pdf ?? '')).arrayBuffer()).toString('latin1');
    expect(pdf).toContain('Total: KWD 1.234');

    const jpy = await openWith(123_456, 'jpy');
    expect(await (await fetch(jpy.hosted_invoice_url ?? '')).text()).toContain('¥123,456');
  });

  it.each(['bhd', 'jod', 'kwd', 'omr', 'tnd'])('write %s in its three decimals, like the server', async (currency) => {
    const open = await openWith(1234, currency);
    const code = currency.toUpperCase();
    expect(await (await fetch(open.hosted_invoice_url ?? '')).text()).toContain(`>${code} 1.234<`);
    const pdf = Buffer.from(await (await fetch(open.invoice_pdf ?? '')).arrayBuffer()).toString('latin1');
    expect(pdf).toContain(`Usage  1 x ${code} 1.234  ${code} 1.234`);
    expect(formatMoney(1234n, currency)).toBe(`${code}\u00a01.234`);
  });

  it('show each line with its quantity and unit price', async () => {
    const { customer, invoice } = await draftFor('usd');
    await h.stripe.invoiceItems.create({
      customer,
      invoice,
      currency: 'usd',
      quantity_decimal: Stripe.Decimal.from('1190'),
      unit_amount_decimal: Stripe.Decimal.from('2'),
      description: 'Agent runtime minutes (1,250 used, 60 free)',
    });
    await h.stripe.invoiceItems.create({
      customer,
      invoice,
      currency: 'usd',
      quantity_decimal: Stripe.Decimal.from('1234567'),
      unit_amount_decimal: Stripe.Decimal.from('0.0002'),
      description: 'Tokens',
    });
    await h.stripe.invoiceItems.create({ customer, invoice, currency: 'usd', amount: 500, description: 'Support' });
    const open = await h.stripe.invoices.finalizeInvoice(invoice);
    const page = await (await fetch(open.hosted_invoice_url ?? '')).text();
    const cells = (name: string) =>
      [...page.matchAll(new RegExp(`data-testid="${name}">([^<]*)<`, 'g'))].map((m) => m[1]);
    expect(cells('quantity')).toEqual(['1,190', '1,234,567', '1']);
    expect(cells('unit-price')).toEqual(['$0.02', '$0.000002', '$5.00']);
    expect(page).toContain('$23.80');

    const pdf = Buffer.from(await (await fetch(open.invoice_pdf ?? '')).arrayBuffer()).toString('latin1');
    expect(pdf).toContain('Agent runtime minutes \\(1,250 used, 60 free\\)  1,190 x USD 0.02  USD 23.80');
    expect(pdf).toContain('Tokens  1,234,567 x USD 0.000002  USD 2.47');
    expect(pdf).toContain('Support  1 x USD 5.00  USD 5.00');
  });
});

describe('the test-mode rate limit and the 429 fault: one 429, treated alike by the SDK', () => {
  /** An SDK client that would retry (2 retries), counting the requests it sends. */
  function countingClient(): { client: Stripe; sent: () => number } {
    const client = stripeClient(h.emulator, { maxNetworkRetries: 2 });
    let sent = 0;
    client.on('request', () => (sent += 1));
    return { client, sent: () => sent };
  }

  it('answers the 26th request of one second 429 rate_limit with Stripe-Rate-Limited-Reason, not retried', async () => {
    await h.control.setRateLimit(25);
    const { client, sent } = countingClient();
    const results = await Promise.allSettled(Array.from({ length: 26 }, () => client.customers.list()));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Stripe.errors.StripeError] : []));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ type: 'StripeRateLimitError', statusCode: 429, code: 'rate_limit' });
    expect(refused[0].headers?.['stripe-rate-limited-reason']).toBe('global-rate');
    expect(refused[0].headers?.['stripe-should-retry']).toBeUndefined();
    expect(sent()).toBe(26); // the SDK did not retry the 429 (Stripe does not ask it to)

    // The sliding second of the emulator's clock: a second later there is room again.
    await expect(client.customers.list()).rejects.toMatchObject({ statusCode: 429 });
    clock.advance(1_000);
    await expect(client.customers.list()).resolves.toMatchObject({ object: 'list' });
  });

  it("gives the fault's 429 the same shape, so the SDK does not retry it either", async () => {
    const rule = await h.control.injectFault({ kind: '429', path: '/v1/customers', count: 3 });
    const { client, sent } = countingClient();
    const err = await rejection(client.customers.list());
    expect(err).toMatchObject({ type: 'StripeRateLimitError', statusCode: 429, code: 'rate_limit' });
    expect(err.headers?.['stripe-rate-limited-reason']).toBe('global-rate');
    expect(err.headers?.['stripe-should-retry']).toBeUndefined();
    expect(sent()).toBe(1);
    expect((await h.control.faults()).find((f) => f.id === rule.id)?.hits).toBe(1);
  });
});
