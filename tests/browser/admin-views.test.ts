import type { Browser, BrowserContext, Page } from 'playwright-core';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, PayInvoiceDocument } from '../generated/graphql';
import { DASHBOARD_BUILD_DIR } from '../helpers/build';
import type { AxeViolation } from '../helpers/browser';
import { launchChromium, screenshot, seriousAccessibilityViolations } from '../helpers/browser';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../webhooks/fixtures';

const PHONE = { viewport: { width: 375, height: 812 }, isMobile: true };

/**
 * The usage view and the admin views, in Debian's Chromium against a real server, database and local Stripe: a
 * user's cost preview and daily charts; an admin's customers, a webhook replay followed to its outcome, a billing run
 * watched from running to done without a reload (Stripe holds its invoices until the test lets them go), a
 * reconciliation dry run; a user token sees none of the admin views. Every view is photographed at desktop and
 * phone width (375 px) into test-artifacts/browser/ and scanned with axe-core.
 */
describe('the usage and admin views in a browser', () => {
  let t: TestServer;
  let op: Awaited<ReturnType<typeof operator>>;
  let browser: Browser;
  const violations: Record<string, AxeViolation[]> = {};

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

  /** The page fits the phone's width: nothing scrolls sideways. */
  async function fitsPhone(page: Page): Promise<void> {
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
  }

  const mainNav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

  beforeAll(async () => {
    // Dunning on, without a timer: the dunning view's test runs its check itself.
    t = await startTestServer({
      DASHBOARD_DIR: DASHBOARD_BUILD_DIR,
      DUNNING_RETRY_DAYS: '1,3',
      DUNNING_INTERVAL_SECONDS: '0',
    });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    op = await operator(t);
    browser = await launchChromium();
    // January: tokens on two days (1,234,567 in all: $2.47) and 1,500 runtime minutes, 60 of them free ($28.80).
    await op.record([
      { userId: 'usage-uma', metric: 'llm_input_tokens', quantity: '1000000', occurredAt: '2024-01-15T10:00:00Z' },
      { userId: 'usage-uma', metric: 'llm_input_tokens', quantity: '234567', occurredAt: '2024-01-20T10:00:00Z' },
      { userId: 'usage-uma', metric: 'agent_runtime_minutes', quantity: '1500', occurredAt: '2024-01-16T10:00:00Z' },
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });
  afterEach(() => t.control.clearFaults());

  it('shows a user the cost so far and a daily chart per metric, with its figures as a table', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, await t.token('usage-uma'));
    // A user's navigation has no admin page.
    await mainNav(page).getByRole('link', { name: 'Usage' }).waitFor();
    await expect(mainNav(page).getByRole('link').allInnerTexts()).resolves.toEqual([
      'Invoices',
      'Usage',
      'GraphQL explorer',
    ]);
    await mainNav(page).getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage', exact: true }).waitFor();
    await page.getByLabel('Period', { exact: true }).fill('2024-01');
    await page.waitForURL(/period=2024-01/);
    await page.getByTestId('usage-subtotal').getByText('$31.27').waitFor();
    await page.getByRole('cell', { name: /^1,500\s*1,440 billed, 60 free$/ }).waitFor();
    const tokens = page.locator('figure[data-metric="llm_input_tokens"]');
    await tokens.and(page.locator('[data-drawn="true"]')).waitFor();
    await page.locator('figure[data-metric="agent_runtime_minutes"][data-drawn="true"]').waitFor();
    await expect(tokens.getByRole('img').getAttribute('aria-label')).resolves.toMatch(
      /Usage on 2 days; highest 1,000,000 \w+ on 2024-01-15/,
    );
    // The table alternative, opened from the keyboard.
    await tokens.getByText('Daily figures as a table').focus();
    await page.keyboard.press('Enter');
    await tokens.getByRole('row', { name: '2024-01-20 234,567' }).waitFor();
    await view(page, 'usage');

    await page.setViewportSize({ width: 375, height: 812 });
    await tokens.getByRole('row', { name: '2024-01-15 1,000,000' }).waitFor();
    // Chart.js redraws each chart at the new width on its next frame.
    await page.waitForFunction(
      `[...document.querySelectorAll('figure.chart canvas')].every((c) => c.getBoundingClientRect().width <= 375)`,
    );
    await fitsPhone(page);
    await view(page, 'usage-phone');
    await context.close();
  });

  it('keeps every admin view from a user token', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, await t.token('usage-uma'));
    for (const name of ['Customers', 'Billing runs', 'Webhooks', 'Reconcile', 'Dunning']) {
      await expect(mainNav(page).getByRole('link', { name }).count()).resolves.toBe(0);
    }
    await page.goto(`${t.url}/admin/billing-runs`);
    await page.getByRole('heading', { name: 'Admins only' }).waitFor();
    await page.getByRole('alert').getByText('This page needs an admin token').waitFor();
    await expect(page.getByRole('button', { name: 'Start billing run' }).count()).resolves.toBe(0);
    await view(page, 'admin-refused');
    await context.close();
  });

  it('lists customers for an admin and links each to their usage', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, op.admin);
    await mainNav(page).getByRole('link', { name: 'Customers' }).click();
    await page.getByRole('heading', { name: 'Customers' }).waitFor();
    await page.locator('tr[data-user-id="usage-uma"]').waitFor();
    await view(page, 'customers');
    await page.getByLabel('User id, e-mail or name contains').fill('UMA');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('customer-count').getByText('1 customer matching “UMA”').waitFor();
    await page.getByRole('link', { name: 'Usage of usage-uma' }).click();
    await page.getByRole('heading', { name: 'Usage of usage-uma' }).waitFor();
    await context.close();
  });

  it('pages through more customers than one page holds', async () => {
    // 51 customers (a page is 50), with usage in a month no other test bills.
    await op.record(
      Array.from({ length: 51 }, (_, index) => ({
        userId: `pager-${String(index).padStart(2, '0')}`,
        metric: 'llm_input_tokens',
        quantity: '1',
        occurredAt: '2023-03-10T10:00:00Z',
      })),
    );
    const context = await browser.newContext();
    const page = await signIn(context, op.admin);
    await page.goto(`${t.url}/admin/customers?search=pager-`);
    await page.getByTestId('customer-count').getByText('51 customers matching “pager-”').waitFor();
    const rows = page.locator('tr[data-user-id^="pager-"]');
    await rows.nth(49).waitFor();
    await expect(rows.count()).resolves.toBe(50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await rows.nth(50).waitFor();
    await expect(rows.count()).resolves.toBe(51);
    const ids = await rows.evaluateAll((cells) => cells.map((cell) => cell.getAttribute('data-user-id')));
    expect(new Set(ids).size).toBe(51);
    // The last page has no next one.
    await expect(page.getByRole('button', { name: 'Load more' }).count()).resolves.toBe(0);
    await context.close();
  });

  it('lets an admin replay a webhook event and see it applied again', async () => {
    await op.record([
      { userId: 'hook-hal', metric: 'llm_input_tokens', quantity: '500000', occurredAt: '2024-01-03T00:00:00Z' },
    ]);
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await t.token('hook-hal') });
    expect(created.body.data?.createInvoice.__typename).toBe('Invoice');
    // The local Stripe delivers the invoice's events; the worker applies them.
    const eventId = await waitFor(
      async () => {
        const res = await t.gql<{ webhookEvents: { edges: Array<{ node: { id: string } }> } }, unknown>(
          `{ webhookEvents(type: "invoice.finalized", status: PROCESSED) { edges { node { id } } } }`,
          {},
          { token: op.admin },
        );
        return res.body.data?.webhookEvents.edges[0]?.node.id;
      },
      undefined,
      'a processed invoice.finalized event',
    );

    const context = await browser.newContext();
    const page = await signIn(context, op.admin);
    await mainNav(page).getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhook events' }).waitFor();
    await page.getByLabel('Type').fill('invoice.finalized');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=invoice.finalized/);
    const row = page.locator(`tr[data-event-id="${eventId}"]`);
    await row.locator('[data-status="PROCESSED"]').waitFor();
    await page.getByLabel('Status').selectOption('PROCESSED');
    await page.waitForURL(/status=PROCESSED/);
    await row.waitFor();
    await view(page, 'webhooks');

    await row.getByRole('button', { name: /^Replay/ }).click();
    await row.getByTestId('replay-result').getByText('Replayed: processed.').waitFor();
    await row.locator('[data-status="PROCESSED"]').waitFor();
    await view(page, 'webhooks-replayed');
    await context.close();
  });

  it('lets an admin start a billing run and watch it reach done without a reload', async () => {
    await op.record(
      ['run-rae', 'run-rob', 'run-ray'].map((userId) => ({
        userId,
        metric: 'llm_input_tokens',
        quantity: '1234567',
        occurredAt: '2024-02-10T10:00:00Z',
      })),
    );
    const context = await browser.newContext();
    const page = await signIn(context, op.admin);
    let loads = 0;
    page.on('load', () => (loads += 1));
    await mainNav(page).getByRole('link', { name: 'Billing runs' }).click();
    await page.getByRole('heading', { name: 'Billing runs' }).waitFor();
    await page.getByText('No billing run yet.').waitFor();

    // Stripe holds the invoices' creation until the test lets it go: the run is seen working first.
    const hold = await t.control.holdRequests({ path: '^/v1/invoices$', method: 'POST' });
    await page.getByLabel('Period to bill').fill('2024-02');
    await page.getByRole('button', { name: 'Start billing run' }).click();
    const card = page.locator('li.run[data-period="2024-02"]');
    await card.and(page.locator('[data-status="running"]')).waitFor();
    await t.control.waitForHeld(hold.id, 1);
    await card
      .getByTestId('run-2024-02-counts')
      .getByText(/^0 of 3 customers handled/)
      .waitFor();
    await view(page, 'billing-run-running');

    // Removed, the rule lets its held request go on and holds no more.
    await t.control.removeFault(hold.id);
    await page.locator('li.run[data-period="2024-02"][data-status="completed"]').waitFor();
    await card
      .getByTestId('run-2024-02-counts')
      .getByText('3 of 3 customers handled: 3 invoiced, 0 failed, 0 with nothing to bill.')
      .waitFor();
    await card.getByText('Completed', { exact: true }).waitFor();
    expect(loads).toBe(0);
    await view(page, 'billing-run-done');

    await page.setViewportSize({ width: 375, height: 812 });
    await fitsPhone(page);
    await view(page, 'billing-runs-phone');
    await context.close();
  });

  it('runs a reconciliation dry run for an admin', async () => {
    const context = await browser.newContext();
    const page = await signIn(context, op.admin);
    await mainNav(page).getByRole('link', { name: 'Reconcile' }).click();
    await page.getByRole('heading', { name: 'Reconcile with Stripe' }).waitFor();
    await page.getByLabel('Period').fill('2024-02');
    await page.getByRole('button', { name: 'Dry run' }).click();
    // The three invoices of the run above, compared with the local Stripe; a dry run applies nothing.
    await page.getByRole('heading', { name: 'Dry run of 2024-02: 3 invoices compared' }).waitFor();
    await page.getByTestId('reconcile-report').getByRole('status').waitFor();
    await view(page, 'reconcile');
    await context.close();
  });

  it('shows an admin the invoices of a period in dunning', async () => {
    // A declined payment puts a March invoice into dunning at the next check.
    await op.record([
      { userId: 'dunning-dora', metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-03-15T10:00:00Z' },
    ]);
    const token = await t.token('dunning-dora');
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-03' }, { token });
    const invoice = created.body.data!.createInvoice as { id: string; number: string };
    await t.gql(PayInvoiceDocument, { invoiceId: invoice.id, paymentMethodId: 'pm_card_chargeDeclined' }, { token });
    expect(await t.server.dunning.tick()).toMatchObject({ enrolled: 1 });

    const context = await browser.newContext();
    const page = await signIn(context, op.admin);
    await mainNav(page).getByRole('link', { name: 'Dunning' }).click();
    await page.getByRole('heading', { name: 'Dunning', exact: true }).waitFor();
    await page.getByLabel('Period').fill('2024-03');
    await page.getByRole('button', { name: 'Show' }).click();
    const row = page.getByRole('row', { name: new RegExp(invoice.number) });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/dunning-dora.*ACTIVE/);
    await view(page, 'dunning');
    await context.close();
  });

  it('fits every admin view to a phone’s width', async () => {
    const context = await browser.newContext(PHONE);
    const page = await signIn(context, op.admin);
    const pages: Array<[string, string, string]> = [
      ['customers-phone', '/admin/customers', 'Customers'],
      ['webhooks-phone', '/admin/webhooks?type=invoice.*', 'Webhook events'],
      ['reconcile-phone', '/admin/reconcile?period=2024-02', 'Reconcile with Stripe'],
      ['dunning-phone', '/admin/dunning?period=2024-03', 'Dunning'],
    ];
    for (const [name, path, heading] of pages) {
      await page.goto(`${t.url}${path}`);
      await page.getByRole('heading', { name: heading }).waitFor();
      await page.locator('table.cards, .filters').first().waitFor();
      await page.locator('.loading').waitFor({ state: 'detached' });
      await fitsPhone(page);
      await view(page, name);
    }
    await context.close();
  });

  it('finds no serious or critical accessibility violation (axe-core) in any view above', () => {
    expect(Object.keys(violations).length).toBeGreaterThanOrEqual(12);
    expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((name) => [name, []])));
  });
});
