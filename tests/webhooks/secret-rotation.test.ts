import { loadConfig } from '../../src/config/config';
import { ManualClock } from '../helpers/clock';
import type { TestServer } from '../helpers/server';
import { TEST_WEBHOOK_SECRET, startTestServer } from '../helpers/server';
import { documentedSchema, schemaProblems } from '../rest/rest-harness';
import { countEvents, findEvent, postWebhook, stripeEvent, stripeInvoice } from './fixtures';

/** The secret a roll adds in the Stripe dashboard; the old one (the harness's) stays valid beside it for a while. */
const NEW_SECRET = 'whsec_rolled_in_new_secret';

describe('webhook signatures: the tolerance both ways, and a secret roll', () => {
  // Signatures are checked against the server's clock, here one the test sets.
  const clock = new ManualClock(new Date('2026-12-05T12:00:00Z'));
  const nowSeconds = (): number => Math.floor(clock.now() / 1000);
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ STRIPE_WEBHOOK_SECRET: `${NEW_SECRET}, ${TEST_WEBHOOK_SECRET}` }, { clock });
  });
  afterAll(() => t.close());

  const anEvent = () => stripeEvent('invoice.updated', stripeInvoice());

  async function health(): Promise<Record<string, unknown>> {
    const res = await fetch(`${t.url}/api/v1/webhooks/health`);
    const body = (await res.json()) as Record<string, unknown>;
    expect(schemaProblems(documentedSchema('/api/v1/webhooks/health', 'get', res.status), body)).toEqual([]);
    return body;
  }

  it('refuses an event signed an hour in the future → 400 future_signature, nothing stored', async () => {
    const before = await countEvents(t.database.db);
    const event = anEvent();
    const res = await postWebhook(t.url, event, { timestamp: nowSeconds() + 3600, secret: NEW_SECRET });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      success: false,
      error: { code: 'future_signature', message: expect.stringContaining('future') },
    });
    expect(await countEvents(t.database.db)).toBe(before);
  });

  it('draws the line at the tolerance: 301 s ahead refused, 300 s ahead accepted', async () => {
    const ahead = await postWebhook(t.url, anEvent(), { timestamp: nowSeconds() + 301, secret: NEW_SECRET });
    expect(ahead.status).toBe(400);
    expect((ahead.json.error as { code: string }).code).toBe('future_signature');
    const skewed = anEvent();
    const ok = await postWebhook(t.url, skewed, { timestamp: nowSeconds() + 300, secret: NEW_SECRET });
    expect(ok.status).toBe(200);
    expect(await findEvent(t.database.db, skewed.id)).not.toBeNull();
  });

  it('still refuses the past beyond the tolerance against the same clock', async () => {
    const res = await postWebhook(t.url, anEvent(), { timestamp: nowSeconds() - 301, secret: NEW_SECRET });
    expect((res.json.error as { code: string }).code).toBe('stale_signature');
  });

  it('accepts events signed with either secret during a roll; health says how many and which verified the last', async () => {
    const byOld = anEvent();
    expect((await postWebhook(t.url, byOld, { timestamp: nowSeconds(), secret: TEST_WEBHOOK_SECRET })).status).toBe(
      200,
    );
    expect(await health()).toMatchObject({ secretConfigured: true, secretCount: 2, lastEventSecretIndex: 1 });

    const byNew = anEvent();
    expect((await postWebhook(t.url, byNew, { timestamp: nowSeconds(), secret: NEW_SECRET })).status).toBe(200);
    const body = await health();
    expect(body).toMatchObject({ secretCount: 2, lastEventSecretIndex: 0 });
    expect(JSON.stringify(body)).not.toContain('whsec_');
    expect(await findEvent(t.database.db, byOld.id)).not.toBeNull();
    expect(await findEvent(t.database.db, byNew.id)).not.toBeNull();

    const byNeither = await postWebhook(t.url, anEvent(), { timestamp: nowSeconds(), secret: 'whsec_someone_else' });
    expect((byNeither.json.error as { code: string }).code).toBe('invalid_signature');
    expect(await health()).toMatchObject({ lastEventSecretIndex: 0 });
  });
});

describe('STRIPE_WEBHOOK_SECRET as a list', () => {
  const load = (value: string) => loadConfig({ NODE_ENV: 'test', STRIPE_WEBHOOK_SECRET: value });

  it('reads one secret or several separated by commas', () => {
    expect(load('whsec_one').stripe.webhookSecrets).toEqual(['whsec_one']);
    expect(load('whsec_new, whsec_old').stripe.webhookSecrets).toEqual(['whsec_new', 'whsec_old']);
  });

  it('refuses a list with a value that is not a signing secret, naming the variable but not echoing it', () => {
    expect(() => load('whsec_new,sk_test_oops')).toThrow(/STRIPE_WEBHOOK_SECRET/);
    expect(() => load('whsec_new,sk_test_oops')).not.toThrow(/sk_test_oops/);
    expect(() => load('whsec_same,whsec_same')).toThrow(/twice/);
  });
});
