import { readFileSync } from 'node:fs';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Role } from '../src/entities/enums';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, PayInvoiceDocument } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';
import { settled } from './webhooks/fixtures';

/** A scraper's bearer token for the test server (not a secret anywhere else). */
const METRICS_TOKEN = 'metrics-scraper-test-token-0123456789abcdef';

interface Family {
  name: string;
  type: string;
}

/** One sample line of the text format: `name{label="value",…} number`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** What a scrape holds: the families (from the third-party parser, which also rejects malformed text) and the samples. */
interface Scrape {
  families: Map<string, Family>;
  samples: Sample[];
}

/**
 * `/metrics` as Prometheus reads it: the text parsed by a Prometheus text-format parser, each family present, and each
 * moving when its path runs (an invoice made and paid through GraphQL, its webhooks stored and applied).
 */
describe('/metrics: Prometheus text format, behind a token, moving with the work', () => {
  let t: TestServer;

  const scrape = async (token = METRICS_TOKEN): Promise<Scrape> => {
    const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    // Its flattening of labelled histograms loses their labels, so the numbers are read from the lines below.
    const families = parsePrometheusTextFormat(text) as Family[];
    const samples = text
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line): Sample => {
        const [, name, labelText = '', value] = SAMPLE_LINE.exec(line) ?? [];
        expect(name ? line : `malformed: ${line}`).toBe(line);
        return {
          name,
          labels: Object.fromEntries([...labelText.matchAll(LABEL)].map(([, k, v]) => [k, v])),
          value: Number(value),
        };
      });
    return { families: new Map(families.map((family) => [family.name, family])), samples };
  };

  /** The sum of a family's samples whose labels include `labels`; a histogram's observations (its `_count`). */
  const total = (scraped: Scrape, name: string, labels: Record<string, string> = {}): number => {
    const family = scraped.families.get(name);
    if (!family) {
      throw new Error(`no family ${name}`);
    }
    const series = family.type === 'HISTOGRAM' ? `${name}_count` : name;
    return scraped.samples
      .filter((sample) => sample.name === series)
      .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
      .reduce((sum, sample) => sum + sample.value, 0);
  };

  beforeAll(async () => {
    t = await startTestServer({ METRICS_TOKEN });
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t?.close());

  it('refuses anonymous readers (401) and user tokens (403); METRICS_TOKEN and admin/service JWTs may read', async () => {
    const anonymous = await fetch(`${t.url}/metrics`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${t.url}/metrics`, { headers: { authorization: 'Bearer not-the-metrics-token' } });
    expect(wrong.status).toBe(401);
    const user = await fetch(`${t.url}/metrics`, {
      headers: { authorization: `Bearer ${await t.token('u-metrics', Role.USER)}` },
    });
    expect(user.status).toBe(403);
    expect(await user.json()).toMatchObject({ error: { code: 'forbidden' } });
    await scrape(await t.token('ops', Role.ADMIN));
    await scrape(await t.token('platform', Role.SERVICE));
  });

  it('lists every family the runbook and alerts use', async () => {
    const families = await scrape();
    for (const name of [
      'agenthub_http_request_duration_seconds',
      'agenthub_graphql_operation_duration_seconds',
      'agenthub_webhook_intake_total',
      'agenthub_webhook_intake_batch_events',
      'agenthub_webhook_apply_duration_seconds',
      'agenthub_webhook_apply_latency_seconds',
      'agenthub_webhook_events_pending',
      'agenthub_webhook_events_failed',
      'agenthub_webhook_oldest_pending_age_seconds',
      'agenthub_stripe_requests_total',
      'agenthub_stripe_request_duration_seconds',
      'agenthub_payment_outcomes_total',
      'agenthub_invoices',
      'agenthub_billing_runs_running',
      'agenthub_billing_run_items',
      'agenthub_status_feed_listener',
      'agenthub_status_feed_subscribers',
      'agenthub_stream_connections',
      'agenthub_stream_subscriptions',
      'agenthub_database_up',
      'agenthub_process_cpu_seconds_total',
    ]) {
      expect(families.families.has(name) ? name : `missing: ${name}`).toBe(name);
    }
    expect(total(families, 'agenthub_database_up')).toBe(1);
    expect(total(families, 'agenthub_status_feed_listener', { state: 'ok' })).toBe(1);
  });

  it('names only families it serves in the alert rules and the Grafana dashboard (docs/monitoring)', async () => {
    const { families } = await scrape();
    for (const file of ['alerts.yml', 'grafana-dashboard.json']) {
      const text = readFileSync(path.join(__dirname, '../docs/monitoring', file), 'utf8');
      const named = new Set(
        [...text.matchAll(/agenthub_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|count|sum)$/, '')),
      );
      expect(named.size).toBeGreaterThan(5);
      expect([...named].filter((name) => !families.has(name))).toEqual([]);
    }
  });

  it('moves as an invoice is created and paid: GraphQL, Stripe calls, invoices by status, payments, webhooks', async () => {
    const before = await scrape();
    const userId = 'u-metrics-pay';
    const token = await t.token(userId, Role.USER);
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    const invoice = created.body.data!.createInvoice;
    if (invoice.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(invoice)}`);
    }
    const middle = await scrape();
    expect(total(middle, 'agenthub_invoices', { status: 'open' })).toBe(
      total(before, 'agenthub_invoices', { status: 'open' }) + 1,
    );

    const paid = await t.gql(PayInvoiceDocument, { invoiceId: invoice.id, paymentMethodId: 'pm_card_visa' }, { token });
    expect(paid.body.data!.payInvoice).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    // Stripe's events for this payment reach the server, then the worker applies them.
    await t.control.waitForWebhooks();
    const [latest] = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string }>>('select id from webhook_events order by received_at desc limit 1');
    await settled(t.database.db, latest.id);

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}): number =>
      total(after, name, labels) - total(before, name, labels);
    expect(moved('agenthub_graphql_operation_duration_seconds', { operation: 'createInvoice', outcome: 'ok' })).toBe(1);
    expect(moved('agenthub_graphql_operation_duration_seconds', { operation: 'payInvoice', outcome: 'ok' })).toBe(1);
    expect(moved('agenthub_http_request_duration_seconds', { route: '/graphql', method: 'POST' })).toBeGreaterThan(1);
    expect(moved('agenthub_stripe_requests_total', { operation: 'POST /v1/invoices/:id/pay', status: '200' })).toBe(1);
    expect(moved('agenthub_stripe_request_duration_seconds', { operation: 'POST /v1/invoices' })).toBeGreaterThan(0);
    expect(moved('agenthub_payment_outcomes_total', { outcome: 'paid' })).toBe(1);
    expect(moved('agenthub_invoices', { status: 'paid' })).toBe(1);
    expect(moved('agenthub_invoices', { status: 'open' })).toBe(0);
    expect(moved('agenthub_webhook_intake_total', { outcome: 'stored' })).toBeGreaterThan(0);
    expect(moved('agenthub_webhook_intake_batch_events')).toBeGreaterThan(0);
    expect(moved('agenthub_webhook_apply_duration_seconds', { outcome: 'done' })).toBeGreaterThan(0);
    expect(moved('agenthub_webhook_apply_latency_seconds')).toBeGreaterThan(0);
  });

  it('counts a declined payment by its decline code', async () => {
    const before = await scrape();
    const userId = 'u-metrics-decline';
    const token = await t.token(userId, Role.USER);
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '7654321', occurredAt: '2024-01-16T10:00:00Z' }]);
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    const invoice = created.body.data!.createInvoice;
    if (invoice.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(invoice)}`);
    }
    const declined = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_chargeDeclinedInsufficientFunds' },
      { token },
    );
    expect(declined.body.data!.payInvoice).toMatchObject({ __typename: 'PaymentDeclined' });
    const after = await scrape();
    const labels = { outcome: 'declined', decline_code: 'insufficient_funds' };
    expect(total(after, 'agenthub_payment_outcomes_total', labels)).toBe(
      total(before, 'agenthub_payment_outcomes_total', labels) + 1,
    );
    expect(
      total(after, 'agenthub_stripe_requests_total', { operation: 'POST /v1/invoices/:id/pay', status: '402' }),
    ).toBe(
      total(before, 'agenthub_stripe_requests_total', { operation: 'POST /v1/invoices/:id/pay', status: '402' }) + 1,
    );
  });
});
