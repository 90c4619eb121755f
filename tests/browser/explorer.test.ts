import type { Browser, Page } from 'playwright-core';
import { Role } from '../../src/entities/enums';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { DASHBOARD_BUILD_DIR } from '../helpers/build';
import { launchChromium, offlineBut, screenshot, seriousAccessibilityViolations } from '../helpers/browser';
import type { TestServer } from '../helpers/server';
import { startTestServer, waitForStatusFeeds } from '../helpers/server';

const TOKEN_KEY = 'agenthub-billing.token';

/**
 * The bundled GraphiQL at /graphql with the network cut off: every request that is not to the server's own origin is
 * aborted (and recorded), and the explorer must still load, run a query with the prefilled Authorization header and
 * stream a subscription over graphql-ws.
 */
describe('the GraphQL explorer, offline', () => {
  let t: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestServer({ DASHBOARD_DIR: DASHBOARD_BUILD_DIR });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function openExplorer(token: string, query?: string): Promise<{ page: Page; blocked: string[] }> {
    const context = await browser.newContext();
    const blocked = await offlineBut(context, t.url);
    // The dashboard keeps its token in sessionStorage; the explorer prefills its Authorization header from it.
    await context.addInitScript({
      content: `sessionStorage.setItem(${JSON.stringify(TOKEN_KEY)}, ${JSON.stringify(token)});`,
    });
    const page = await context.newPage();
    const url = query ? `${t.url}/graphql?query=${encodeURIComponent(query)}` : `${t.url}/graphql`;
    const response = await page.goto(url);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    await page.locator('.graphiql-container').waitFor();
    await page.getByText('Authorization').first().waitFor();
    return { page, blocked };
  }

  const run = (page: Page) => page.getByRole('button', { name: /Execute query/ }).click();
  const response = (page: Page) => page.locator('.graphiql-response');

  it('answers browsers with the explorer and every other GET with the API', async () => {
    const api = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${await t.token('explorer-user')}` },
    });
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await api.json()).toEqual({ data: { __typename: 'Query' } });
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html,*/*;q=0.8' } });
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('GraphQL explorer');
  });

  it('loads with the network cut off and runs a query with the prefilled token', async () => {
    const { page, blocked } = await openExplorer(await t.token('explorer-user'));
    await run(page);
    await response(page).getByText('"totalCount"').waitFor();
    // Monaco renders spaces as no-break spaces.
    expect((await response(page).innerText()).replace(/\s+/g, ' ')).toContain('"invoices": { "totalCount": 0,');
    await screenshot(page, 'explorer-query');
    expect(blocked).toEqual([]);
    // The explorer with a response shown: editors, toolbar, tabs and the response pane are all on the page.
    expect(
      await seriousAccessibilityViolations(page, [
        // GraphiQL 5 renders each editor tab as <li role="tab"> holding its own close <button>: a control inside a
        // control, built inside the widget (@graphiql/react, components/tabs) with no prop to change it. Accepted on that node
        // only; every other rule still applies to the tab, and nested controls anywhere else still fail.
        { rule: 'nested-interactive', selector: '.graphiql-container li.graphiql-tab[role="tab"]' },
      ]),
    ).toEqual([]);
    await page.context().close();
  });

  it('streams a subscription over graphql-ws', async () => {
    const admin = await t.token('explorer-admin', Role.ADMIN);
    const { page, blocked } = await openExplorer(
      admin,
      'subscription Watch {\n  paymentStatusChanged {\n    status\n    previousStatus\n    reason\n  }\n}\n',
    );
    const before = t.server.statusFeeds();
    await run(page);
    await waitForStatusFeeds(t.server, before + 1);
    // A status change for the subscription to carry: an invoice made and voided through the API.
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    const service = await t.token('platform', Role.SERVICE);
    const recorded = await t.gql(
      'mutation($e: [UsageEventInput!]!) { recordUsage(events: $e) { accepted } }',
      {
        e: [
          {
            userId: 'explorer-user',
            metric: 'llm_input_tokens',
            quantity: '1000000',
            occurredAt: '2024-01-10T00:00:00Z',
            idempotencyKey: 'explorer-1',
          },
        ],
      },
      { token: service },
    );
    expect(recorded.body.errors).toBeUndefined();
    const created = await t.gql<{ createInvoice: { id: string } }, { period: string; userId: string }>(
      'mutation($period: String!, $userId: String) { createInvoice(period: $period, userId: $userId) { ... on Invoice { id } } }',
      { period: '2024-01', userId: 'explorer-user' },
      { token: admin },
    );
    const invoiceId = created.body.data!.createInvoice.id;
    await t.gql(
      'mutation($id: ID!) { cancelInvoice(invoiceId: $id) { __typename } }',
      { id: invoiceId },
      { token: admin },
    );
    await response(page).getByText('"VOID"').waitFor();
    await screenshot(page, 'explorer-subscription');
    expect(blocked).toEqual([]);
    await page.context().close();
  });
});
