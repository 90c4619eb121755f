import Stripe from 'stripe';
import { mapStripeError, redactSecrets, StripeGatewayError } from '../../src/stripe';

type Raw = Stripe.StripeRawError;
const make = (raw: Raw) => Stripe.errors.StripeError.generate(raw);

describe('mapStripeError', () => {
  it('maps card declines with their decline code', () => {
    const failure = mapStripeError(
      make({
        statusCode: 402,
        type: 'card_error',
        code: 'card_declined',
        decline_code: 'insufficient_funds',
        message: 'No funds',
      }),
    );
    expect(failure).toEqual({
      kind: 'card_declined',
      code: 'card_declined',
      declineCode: 'insufficient_funds',
      message: 'No funds',
    });
  });

  it('maps 3-D Secure to requires_action with the PaymentIntent client secret', () => {
    const failure = mapStripeError(
      make({
        statusCode: 402,
        type: 'card_error',
        code: 'invoice_payment_intent_requires_action',
        message: 'Needs action',
        payment_intent: { client_secret: 'pi_1_secret_2' } as Stripe.PaymentIntent,
      }),
    );
    expect(failure).toEqual({ kind: 'requires_action', clientSecret: 'pi_1_secret_2', message: 'Needs action' });
  });

  it.each([
    [{ statusCode: 400, type: 'invalid_request_error', code: 'invoice_not_editable', message: 'x' }, 'invalid_state'],
    [
      { statusCode: 400, type: 'invalid_request_error', message: "you can't re-finalize a non-draft invoice" },
      'invalid_state',
    ],
    [
      { statusCode: 404, type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: 'x' },
      'not_found',
    ],
    [
      {
        statusCode: 404,
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'payment_method',
        message: 'x',
      },
      'invalid_request',
    ],
    [
      { statusCode: 400, type: 'invalid_request_error', code: 'parameter_missing', param: 'customer', message: 'x' },
      'invalid_request',
    ],
    [{ statusCode: 400, type: 'idempotency_error', message: 'Keys for idempotent requests…' }, 'invalid_request'],
    [{ statusCode: 429, type: 'invalid_request_error', code: 'rate_limit', message: 'x' }, 'rate_limited'],
    [{ statusCode: 409, type: 'idempotency_error', code: 'idempotency_key_in_use', message: 'x' }, 'unavailable'],
    [{ statusCode: 500, type: 'api_error', message: 'x' }, 'unavailable'],
    [{ statusCode: 503, type: 'api_error', message: 'x' }, 'unavailable'],
    [{ statusCode: 401, type: 'invalid_request_error', message: 'x' }, 'authentication'],
    [{ statusCode: 403, type: 'invalid_request_error', message: 'x' }, 'authentication'],
  ] as Array<[Raw, string]>)('maps %o to %s', (raw, kind) => {
    expect(mapStripeError(make(raw)).kind).toBe(kind);
  });

  it('maps connection errors and timeouts to unavailable (outcome unknown)', () => {
    const error = new Stripe.errors.StripeConnectionError({ message: 'Request aborted due to timeout' });
    expect(mapStripeError(error)).toEqual({ kind: 'unavailable', message: 'Request aborted due to timeout' });
  });

  it('marks idempotency-key reuse with a code services can recognise', () => {
    const failure = mapStripeError(make({ statusCode: 400, type: 'idempotency_error', message: 'reused' }));
    expect(failure).toMatchObject({ kind: 'invalid_request', code: 'idempotency_error' });
  });

  it('never carries API keys, even when Stripe echoes one', () => {
    const key = 'sk_live_51Habcdefghijklmnop';
    const failure = mapStripeError(
      make({ statusCode: 400, type: 'invalid_request_error', message: `Invalid API Key provided: ${key}` }),
    );
    expect(JSON.stringify(failure)).not.toContain(key);
    const auth = new StripeGatewayError(mapStripeError(make({ statusCode: 401, message: `Invalid ${key}` })));
    expect(`${auth.message} ${JSON.stringify(auth)}`).not.toContain(key);
    expect(redactSecrets(`a ${key} b sk_test_********1234 whsec_abc`)).toBe('a [redacted] b [redacted] [redacted]');
  });
});
