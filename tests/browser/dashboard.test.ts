import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Role } from '../../src/entities/enums';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument } from '../generated/graphql';
import { DASHBOARD_BUILD_DIR } from '../helpers/build';
import type { AxeViolation } from '../helpers/browser';
import { launchChromium, screenshot, seriousAccessibilityViolations } from '../helpers/browser';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer, waitForStatusFeeds } from '../helpers/server';

/**
 * The dashboard as a customer and an admin use it, in Debian's Chromium against a real server, database and local
 * Stripe: sign in with a token, find the invoice, pay it on Stripe's hosted page (declined, then paid) and watch the
 * status change on the dashboard without reloading; an admin filters and cancels. Every view is photographed into
 * test-artifacts/browser/ and scanned with axe-core.
 */
describe('the dashboard in a browser', () => {
  let t: TestServer;
  let op: Awaited<ReturnType<typeof operator>>;
  let browser: Browser;
  const violations: Record<string, AxeViolation[]> = {};

  async function openInvoice(userId: string, tokens: string, minutes?: string) {
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: tokens, occurredAt: '2024-01-15T10:00:00Z' }]);
    if (minutes) {
      await op.record([
        { userId, metric: 'agent_runtime_minutes', quantity: minutes, occurredAt: '2024-01-16T10:00:00Z' },
      ]);
    }
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await t.token(userId) });
    const invoice = res.body.data?.createInvoice;
    if (invoice?.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(res.body)}`);
    }
    return invoice;
  }

  async function signIn(context: BrowserContext, token: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${t.url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Invoices' }).waitFor();
    return page;
  }

  async function view(page: Page, name: string): Promise<void> {
    await screenshot(page, name);
    violations[name] = await seriousAccessibilityViolations(page);
  }

  /** Pays on the local Stripe's hosted invoice page, opened by the dashboard's Pay link in a new tab. */
  async function payOnHostedPage(context: BrowserContext, page: Page, card: string, outcome: string, shot: string) {
    const [hosted] = await Promise.all([
      context.waitForEvent('page'),
      page.getByRole('link', { name: /^Pay / }).click(),
    ]);
    await hosted.getByLabel('Card number').fill(card);
    await hosted.getByLabel('Expiry (MM/YY)').fill('12/34');
    await hosted.getByLabel('CVC').fill('123');
    await hosted.getByRole('button', { name: /^Pay / }).click();
    await hosted.getByText(outcome).waitFor();
    await screenshot(hosted, shot);
    await hosted.close();
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

  it('signs in with a token, opens an invoice, shows a decline, then PAID without a reload', async () => {
    // Runtime minutes come with 60 free a month: the line shows what was billed and what was free.
    const invoice = await openInvoice('dash-alice', '1234567', '1500');
    const context = await browser.newContext();
    const page = await context.newPage();
    let loads = 0;
    page.on('load', () => (loads += 1));
    await page.goto(`${t.url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await view(page, 'sign-in');
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').getByText('That is not a token').waitFor();

    await page.getByLabel('Access token').fill(await t.token('dash-alice'));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Invoices' }).waitFor();
    const row = page.locator(`tr[data-invoice-id="${invoice.id}"]`);
    await row.locator('[data-status="OPEN"]').waitFor();
    await page.getByTestId('totals').getByText('1 invoice').waitFor();
    await view(page, 'invoices');
    // The tab's one live subscription is open: no change from here on can pass unheard.
    await waitForStatusFeeds(t.server, 1);

    // Keyboard only: the invoice's link takes focus and Enter opens it.
    await row.getByRole('link', { name: invoice.number }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Invoice ${invoice.number}` }).waitFor();
    await page.getByRole('cell', { name: '$2.47' }).first().waitFor();
    await page.getByRole('cell', { name: /^1,500\s*1,440 billed, 60 free$/ }).waitFor();
    await page.getByRole('cell', { name: '$31.27' }).first().waitFor();
    await page.locator('.timeline li', { hasText: '→ Open' }).waitFor();
    await view(page, 'invoice-open');

    await payOnHostedPage(context, page, '4000 0000 0000 0002', 'Your card was declined.', 'hosted-page-declined');
    await page.locator('.status-region [data-status="PAYMENT_FAILED"]').waitFor();
    await page.getByRole('alert').getByText('The last payment attempt failed').waitFor();
    await view(page, 'invoice-declined');

    await payOnHostedPage(context, page, '4242 4242 4242 4242', 'Payment successful. Thank you!', 'hosted-page-paid');
    await page.locator('.status-region [data-status="PAID"]').waitFor();
    await page.locator('.timeline li', { hasText: '→ Paid' }).waitFor();
    await expect(page.getByRole('link', { name: /^Pay / }).count()).resolves.toBe(0);
    await view(page, 'invoice-paid');
    expect(loads).toBe(1);
    await context.close();
  });

  it('lets an admin filter every customer’s invoices and cancel one; fits a phone’s width', async () => {
    const bob = await openInvoice('dash-bob', '2000000');
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await signIn(context, await t.token('dash-admin', Role.ADMIN));
    await page.locator(`tr[data-invoice-id="${bob.id}"]`).waitFor();
    await view(page, 'invoices-admin-phone');
    const width = await page.evaluate('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(390);

    await page.getByLabel('Status').selectOption('OPEN');
    await page.waitForURL(/status=OPEN/);
    await page.locator(`tr[data-invoice-id="${bob.id}"]`).waitFor();
    await page.locator('tbody [data-status="PAID"]').waitFor({ state: 'detached' });
    await page.getByLabel('Period').fill('2023-12');
    await page.getByText('No invoices match these filters.').waitFor();
    await page.getByLabel('Period').fill('2024-01');
    await page.locator(`tr[data-invoice-id="${bob.id}"] a`).click();
    await page.getByRole('heading', { name: `Invoice ${bob.number}` }).waitFor();
    await view(page, 'invoice-admin-phone');

    await page.getByRole('button', { name: 'Cancel invoice…' }).click();
    await page.getByLabel('Reason (shown on the invoice)').fill('Billed by mistake');
    await page.getByRole('button', { name: `Void invoice ${bob.number}` }).click();
    await page.locator('.status-region [data-status="VOID"]').waitFor();
    await page.getByText('Billed by mistake').first().waitFor();
    await view(page, 'invoice-voided-phone');
    await context.close();
  });

  it('finds no serious or critical accessibility violation (axe-core) in any view above', () => {
    expect(Object.keys(violations).length).toBeGreaterThanOrEqual(6);
    // One assertion over every view, so a failure lists them all.
    expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((name) => [name, []])));
  });
});
