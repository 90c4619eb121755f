import type { Browser, BrowserContext, Page } from 'playwright-core';
import Stripe from 'stripe';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, PayInvoiceDocument } from '../generated/graphql';
import { DASHBOARD_BUILD_DIR } from '../helpers/build';
import type { AxeViolation } from '../helpers/browser';
import { launchChromium, screenshot, seriousAccessibilityViolations } from '../helpers/browser';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer, waitForStatusFeeds } from '../helpers/server';

/**
 * Payment outcomes on the dashboard's invoice page (the InvoicePayment component), in Debian's Chromium against a
 * real server, database and local Stripe: a decline shows its reason, 3-D Secure shows "Authentication required"
 * and then PAID once the challenge is completed, on Stripe's hosted page or through `payment_intents/:id/confirm`
 * as Stripe.js would. No reload anywhere; every view photographed and scanned with axe-core.
 */
describe('payment outcomes on the dashboard', () => {
  let t: TestServer;
  let op: Awaited<ReturnType<typeof operator>>;
  let browser: Browser;
  const violations: Record<string, AxeViolation[]> = {};

  async function openInvoice(userId: string) {
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await t.token(userId) });
    const invoice = res.body.data?.createInvoice;
    if (invoice?.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(res.body)}`);
    }
    return invoice;
  }

  /** Signs in as `userId` and opens the invoice page; returns the page and a counter of its full loads. */
  async function invoicePage(context: BrowserContext, userId: string, invoice: { id: string; number: string }) {
    const page = await context.newPage();
    const loads = { count: 0 };
    page.on('load', () => (loads.count += 1));
    await page.goto(`${t.url}/`);
    await page.getByLabel('Access token').fill(await t.token(userId));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Invoices' }).waitFor();
    await waitForStatusFeeds(t.server, 1);
    await page.getByRole('link', { name: invoice.number }).click();
    await page.getByRole('heading', { name: `Invoice ${invoice.number}` }).waitFor();
    await page.locator('.status-region [data-status="OPEN"]').waitFor();
    return { page, loads };
  }

  async function view(page: Page, name: string): Promise<void> {
    await screenshot(page, name);
    violations[name] = await seriousAccessibilityViolations(page);
  }

  /** Types a card on the local Stripe's hosted page, opened by the dashboard's Pay link in a new tab. */
  async function cardOnHostedPage(context: BrowserContext, page: Page, card: string): Promise<Page> {
    const [hosted] = await Promise.all([
      context.waitForEvent('page'),
      page.getByRole('link', { name: /^Pay / }).click(),
    ]);
    await hosted.getByLabel('Card number').fill(card);
    await hosted.getByLabel('Expiry (MM/YY)').fill('12/34');
    await hosted.getByLabel('CVC').fill('123');
    await hosted.getByRole('button', { name: /^Pay / }).click();
    return hosted;
  }

  beforeAll(async () => {
    t = await startTestServer({ DASHBOARD_DIR: DASHBOARD_BUILD_DIR });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('a card declined for insufficient funds on the hosted page: the dashboard says why, live', async () => {
    // Under realistic delivery either event may come first: the decline's reason comes with
    // `payment_intent.payment_failed`, and when `invoice.payment_failed` moved the invoice before it, the reason is
    // pushed as a history entry of its own.
    const invoice = await openInvoice('pay-decline');
    const context = await browser.newContext();
    const { page, loads } = await invoicePage(context, 'pay-decline', invoice);
    const hosted = await cardOnHostedPage(context, page, '4000 0000 0000 9995');
    await hosted.getByText('Your card has insufficient funds.').waitFor();
    await screenshot(hosted, 'hosted-page-insufficient-funds');
    await hosted.close();

    await page.locator('.status-region [data-status="PAYMENT_FAILED"]').waitFor();
    const alert = page.getByTestId('payment-error');
    await alert.getByText('Your card was declined: insufficient funds.').waitFor();
    await alert.getByText('Stripe: “Your card has insufficient funds.”').waitFor();
    // One history line gives the decline's reason, whichever event came first: the move to PAYMENT_FAILED itself when
    // the PaymentIntent's event came first, else an entry of its own after the invoice event's move.
    await page.locator('.timeline li', { hasText: 'Your card was declined: insufficient funds' }).waitFor();
    await view(page, 'invoice-declined-insufficient-funds');
    expect(loads.count).toBe(1);
    await context.close();
    await t.control.waitForWebhooks();
  });

  it('3-D Secure on the hosted page (4000 0027 6000 3184): "Authentication required", then PAID after the challenge', async () => {
    const invoice = await openInvoice('pay-3ds-page');
    const context = await browser.newContext();
    const { page, loads } = await invoicePage(context, 'pay-3ds-page', invoice);
    const hosted = await cardOnHostedPage(context, page, '4000 0027 6000 3184');
    await hosted.getByRole('heading', { name: '3D Secure 2 Test Page' }).waitFor();
    await screenshot(hosted, 'hosted-page-3ds-challenge');

    await page.locator('.status-region [data-status="REQUIRES_ACTION"]').waitFor();
    await page.getByTestId('payment-action').getByText('Authentication required.').waitFor();
    await view(page, 'invoice-authentication-required');

    await hosted.getByRole('button', { name: 'Complete authentication' }).click();
    await hosted.getByText('Payment successful. Thank you!').waitFor();
    await hosted.close();
    await page.locator('.status-region [data-status="PAID"]').waitFor();
    await page.getByText('Paid. Thank you!').waitFor();
    await expect(page.getByRole('link', { name: /^Pay / }).count()).resolves.toBe(0);
    await view(page, 'invoice-paid-after-3ds');
    expect(loads.count).toBe(1);
    await context.close();
  });

  it('3-D Secure completed through payment_intents/:id/confirm with the client secret: PAID without a reload', async () => {
    const invoice = await openInvoice('pay-3ds-confirm');
    const context = await browser.newContext();
    const { page, loads } = await invoicePage(context, 'pay-3ds-confirm', invoice);
    const res = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_authenticationRequired' },
      { token: await t.token('pay-3ds-confirm') },
    );
    const action = res.body.data?.payInvoice;
    if (action?.__typename !== 'PaymentRequiresAction' || !action.clientSecret) {
      throw new Error(`expected PaymentRequiresAction, got ${JSON.stringify(res.body)}`);
    }
    await page.locator('.status-region [data-status="REQUIRES_ACTION"]').waitFor();
    await page.getByTestId('payment-action').getByText('Authentication required.').waitFor();

    // As Stripe.js in the customer's browser: a publishable key and the client secret, nothing else.
    const stripeJs = new Stripe('pk_test_dashboard', { ...t.emulator.stripeConfig, maxNetworkRetries: 0 });
    const confirmed = await stripeJs.paymentIntents.confirm(action.clientSecret.split('_secret_')[0], {
      client_secret: action.clientSecret,
    } as Stripe.PaymentIntentConfirmParams);
    expect(confirmed.status).toBe('succeeded');
    await page.locator('.status-region [data-status="PAID"]').waitFor();
    await view(page, 'invoice-paid-after-confirm');
    expect(loads.count).toBe(1);
    await context.close();
  });

  it('Stripe unavailable while paying: the dashboard says the provider is unavailable and the status will follow', async () => {
    const invoice = await openInvoice('pay-unavailable');
    const context = await browser.newContext();
    const { page } = await invoicePage(context, 'pay-unavailable', invoice);
    // Every try of the pay request (the SDK retries a 500) fails: its outcome stays unknown.
    const fault = await t.control.injectFault({ kind: '500', method: 'POST', path: '^/v1/invoices/[^/]+/pay$' });
    try {
      const res = await t.gql(
        PayInvoiceDocument,
        { invoiceId: invoice.id, paymentMethodId: 'pm_card_visa' },
        { token: await t.token('pay-unavailable') },
      );
      expect(res.body.data?.payInvoice).toMatchObject({
        __typename: 'PaymentProviderUnavailable',
        code: 'PAYMENT_PENDING',
      });
    } finally {
      await t.control.removeFault(fault.id);
    }
    await page.locator('.status-region [data-status="PROCESSING"]').waitFor();
    await page.getByTestId('payment-pending').getByText('The payment provider is unavailable').waitFor();
    await view(page, 'invoice-provider-unavailable');
    await context.close();
  });

  it('finds no serious or critical accessibility violation (axe-core) in any view above', () => {
    expect(Object.keys(violations).length).toBeGreaterThanOrEqual(5);
    expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((name) => [name, []])));
  });
});
