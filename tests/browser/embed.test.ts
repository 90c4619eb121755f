import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument } from '../generated/graphql';
import { BUILD_DIR, ROOT } from '../helpers/build';
import { launchChromium, screenshot, seriousAccessibilityViolations } from '../helpers/browser';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer, waitForStatusFeeds } from '../helpers/server';

/**
 * The platform's page, built. The test server serves it as its DASHBOARD_DIR: the platform's app on the billing
 * server's origin, where the component finds `/graphql` (a page answered by the browser harness instead, not from the
 * network, would be a foreign address space to Chromium, whose local network checks then refuse its WebSocket).
 */
const HOST_BUILD_DIR = path.join(BUILD_DIR, 'embed-example');

/**
 * The embeddable `InvoicePayment` on its own, in a platform's minimal page (dashboard/embed-example: the component and
 * its styles, nothing of the dashboard), as docs/dashboard.md shows it: the amount due, Pay opening the local
 * Stripe's hosted page, a payment with 4242 4242 4242 4242, and PAID on the platform's page without a reload.
 */
describe('InvoicePayment embedded in a platform page', () => {
  let t: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    // The example is built with Vite like any app that imports the component (a second or so).
    execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vite/bin/vite.js'),
        'build',
        '--config',
        path.join(ROOT, 'dashboard/embed-example/vite.config.mts'),
        '--outDir',
        HOST_BUILD_DIR,
      ],
      { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    t = await startTestServer({ DASHBOARD_DIR: HOST_BUILD_DIR });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows the amount, opens the hosted page from Pay, and turns PAID live after paying with 4242 4242 4242 4242', async () => {
    const op = await operator(t);
    await op.record([
      { userId: 'embed-user', metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' },
    ]);
    const token = await t.token('embed-user');
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    const invoice = created.body.data?.createInvoice;
    if (invoice?.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(created.body)}`);
    }
    expect(invoice).toMatchObject({ status: 'OPEN', amount: { formatted: '$2.47' } });

    const context = await browser.newContext();
    const page = await context.newPage();
    let loads = 0;
    page.on('load', () => (loads += 1));
    const feeds = t.server.statusFeeds();
    await page.goto(`${t.url}/#invoice=${invoice.id}&token=${token}`);
    await page.getByRole('heading', { name: 'Your AgentHub invoice' }).waitFor();
    await page.getByTestId('amount-due').getByText('$2.47').waitFor();
    await page.locator('.status-region [data-status="OPEN"]').waitFor();
    // The component's own subscription is open on the server: the payment's status change cannot pass unheard.
    await waitForStatusFeeds(t.server, feeds + 1);
    await screenshot(page, 'embed-open');
    expect(await seriousAccessibilityViolations(page)).toEqual([]);

    const [hosted] = await Promise.all([
      context.waitForEvent('page'),
      page.getByRole('link', { name: /^Pay \$2\.47/ }).click(),
    ]);
    await hosted.waitForLoadState();
    expect(hosted.url()).toBe(invoice.paymentUrl);
    await hosted.getByLabel('Card number').fill('4242 4242 4242 4242');
    await hosted.getByLabel('Expiry (MM/YY)').fill('12/34');
    await hosted.getByLabel('CVC').fill('123');
    await hosted.getByRole('button', { name: /^Pay / }).click();
    await hosted.getByText('Payment successful. Thank you!').waitFor();
    await screenshot(hosted, 'embed-hosted-page-paid');
    await hosted.close();

    await page.locator('.status-region [data-status="PAID"]').waitFor();
    await page.getByText('Paid. Thank you!').waitFor();
    // The host heard it through onStatusChange, and the Pay button is gone.
    await page.getByTestId('host-heard').getByText(/PAID/).waitFor();
    expect(await page.getByRole('link', { name: /^Pay / }).count()).toBe(0);
    await screenshot(page, 'embed-paid');
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    expect(loads).toBe(1);
    await context.close();
  });
});
