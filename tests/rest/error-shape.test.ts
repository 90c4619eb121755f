import { Role } from '../../src/entities/enums';
import type { RestResponse, RestServer } from './rest-harness';
import { startRestServer } from './rest-harness';

/**
 * One error body on every REST route: `{ success: false, error: { code, message, ... } }` with a snake_case code,
 * for every 4xx a client can provoke (the harness also checks each answer against the OpenAPI document).
 */
describe('every REST route answers its failures in one shape', () => {
  let s: RestServer;
  let user: string;
  let service: string;

  beforeAll(async () => {
    s = await startRestServer();
    user = await s.t.token('shape-user');
    service = await s.t.token('platform', Role.SERVICE);
  });
  afterAll(() => s.close());

  const INVOICE = '00000000-0000-4000-8000-000000000000';
  const cases: Array<[string, () => Promise<RestResponse>, number, string]> = [
    ['create without a token', () => s.call('POST', '/api/v1/billing/invoice/2024-01/create'), 401, 'unauthenticated'],
    [
      'create for a malformed month',
      () => s.call('POST', '/api/v1/billing/invoice/2024-13/create', { token: user }),
      400,
      'invalid_month',
    ],
    [
      'create for another user',
      () => s.call('POST', '/api/v1/billing/invoice/2024-01/create?user_id=someone-else', { token: user }),
      403,
      'forbidden',
    ],
    [
      'list with a bad limit',
      () => s.call('GET', '/api/v1/billing/invoices?limit=0', { token: user }),
      400,
      'invalid_limit',
    ],
    [
      'read a missing invoice',
      () => s.call('GET', `/api/v1/billing/invoice/${INVOICE}`, { token: user }),
      404,
      'not_found',
    ],
    [
      'pay with malformed JSON',
      () =>
        s.call('POST', `/api/v1/billing/invoice/${INVOICE}/pay`, {
          token: user,
          body: '{"payment_method_id": ',
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'invalid_json',
    ],
    [
      'pay with a user id that is not one',
      () =>
        s.call('POST', `/api/v1/billing/invoice/${INVOICE}/pay`, {
          token: user,
          json: { payment_method_id: 'pm_card_visa', user_id: 1.5 },
        }),
      400,
      'invalid_request',
    ],
    [
      'cancel a missing invoice',
      () => s.call('POST', `/api/v1/billing/invoice/${INVOICE}/cancel`, { token: user }),
      404,
      'not_found',
    ],
    ['usage without a token', () => s.call('POST', '/api/v1/usage', { json: [] }), 401, 'unauthenticated'],
    ['usage as a plain user', () => s.call('POST', '/api/v1/usage', { token: user, json: [] }), 403, 'forbidden'],
    [
      'usage that is not a list',
      () => s.call('POST', '/api/v1/usage', { token: service, json: { hello: 'world' } }),
      400,
      'invalid_request',
    ],
    [
      'usage with malformed JSON',
      () =>
        s.call('POST', '/api/v1/usage', {
          token: service,
          body: '[{"userId": ',
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'invalid_json',
    ],
    [
      'a webhook without a signature',
      () => s.call('POST', '/api/v1/webhooks/stripe', { json: { id: 'evt_1', type: 'invoice.paid' } }),
      400,
      'missing_signature',
    ],
    ['an unknown path', () => s.call('GET', '/api/v1/nope', { token: user }), 404, 'not_found'],
    [
      'an unknown billing method',
      () => s.call('DELETE', '/api/v1/billing/invoices', { token: user }),
      404,
      'not_found',
    ],
    [
      'a path that is not percent-encoding',
      () => s.call('GET', '/api/v1/billing/invoice/%E0%A4%A', { token: user }),
      400,
      'invalid_request',
    ],
  ];

  it.each(cases)('%s', async (_name, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['error', 'success']);
    expect(res.body).toEqual({
      success: false,
      error: expect.objectContaining({ code, message: expect.any(String) }),
    });
    expect(res.body.error.code).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(res.text).not.toMatch(/at .*\.[jt]s:\d+/);
  });

  it('usage answers that are not failures carry success: true and fit the document', async () => {
    const res = await s.call('POST', '/api/v1/usage', {
      token: service,
      json: [
        {
          userId: 'shape-user',
          metric: 'nope',
          quantity: '1',
          occurredAt: '2024-01-15T10:00:00Z',
          idempotencyKey: 'k1',
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, accepted: 0, rejected: [{ index: 0, code: 'UNKNOWN_METRIC' }] });
    const health = await s.call('GET', '/api/v1/webhooks/health');
    expect([200, 503]).toContain(health.status);
  });
});
