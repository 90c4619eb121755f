import { InvoiceStatus } from '../../src/entities/enums';
import { guideStatus } from '../../src/http/billing-responses';
import { errorResult } from '../../src/http/http-errors';
import { JsonDecimal, stringifyExact } from '../../src/http/exact-json';
import { minorToDecimalString } from '../../src/services/shared/money';
import { BadInputError, ForbiddenError, NotFoundError, UnauthenticatedError } from '../../src/services/shared/errors';
import { StripeGatewayError } from '../../src/stripe';

describe('exact JSON amounts', () => {
  it('writes decimals with exactly their digits, for every currency exponent', () => {
    const body = {
      usd: new JsonDecimal(minorToDecimalString(2550n, 'usd')),
      jpy: new JsonDecimal(minorToDecimalString(1500n, 'jpy')),
      kwd: new JsonDecimal(minorToDecimalString(1230n, 'kwd')),
      refund: new JsonDecimal(minorToDecimalString(-5n, 'usd')),
      huge: new JsonDecimal(minorToDecimalString(123456789012345678901n, 'usd')),
      nested: [{ amount: new JsonDecimal('0.10') }],
    };
    expect(stringifyExact(body)).toBe(
      '{"usd":25.50,"jpy":1500,"kwd":1.230,"refund":-0.05,"huge":1234567890123456789.01,"nested":[{"amount":0.10}]}',
    );
  });

  it('never turns a client-supplied string into a number', () => {
    const sneaky = ['25.50', '~deadbeef~25.50', '"25.50"'];
    expect(JSON.parse(stringifyExact({ sneaky }))).toEqual({ sneaky });
  });

  it('refuses anything but a plain decimal', () => {
    for (const text of ['1e3', 'NaN', '', '1.', '.5', '0x10']) {
      expect(() => new JsonDecimal(text)).toThrow(RangeError);
    }
  });
});

describe('the guide status vocabulary', () => {
  it.each([
    [InvoiceStatus.DRAFT, false, 'draft'],
    [InvoiceStatus.OPEN, true, 'sent'],
    [InvoiceStatus.OPEN, false, 'open'],
    [InvoiceStatus.PROCESSING, true, 'processing'],
    [InvoiceStatus.REQUIRES_ACTION, true, 'requires_action'],
    [InvoiceStatus.PAYMENT_FAILED, true, 'payment_failed'],
    [InvoiceStatus.PAID, true, 'paid'],
    [InvoiceStatus.VOID, true, 'void'],
    [InvoiceStatus.UNCOLLECTIBLE, true, 'uncollectible'],
  ])('%s (sent: %s) is "%s"', (status, sent, expected) => {
    expect(guideStatus(status, sent)).toBe(expected);
  });
});

describe('failures → HTTP', () => {
  const mapped = (error: unknown) => {
    const { status, body, headers } = errorResult(error);
    return { status, body: body as { success: boolean; error: Record<string, unknown> }, headers };
  };

  it('maps domain errors to 401, 403, 404 and input errors by parameter', () => {
    expect(mapped(new UnauthenticatedError())).toMatchObject({
      status: 401,
      body: { success: false, error: { code: 'unauthenticated' } },
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
    expect(mapped(new ForbiddenError()).status).toBe(403);
    expect(mapped(new NotFoundError('Invoice "x"')).body.error).toEqual({
      code: 'not_found',
      message: 'Invoice "x" not found',
    });
    expect(mapped(new BadInputError('paymentMethodId must be pm_…', 'paymentMethodId'))).toMatchObject({
      status: 422,
      body: { error: { code: 'invalid_payment_method', message: 'payment_method_id must be pm_…' } },
    });
    expect(mapped(new BadInputError('Period must be YYYY-MM', 'period')).status).toBe(400);
    expect(mapped(new BadInputError('something else')).body.error.code).toBe('validation_error');
  });

  it('maps Stripe outages to 503 and anything else from Stripe to a 502 that describes nothing', () => {
    expect(mapped(new StripeGatewayError({ kind: 'unavailable', message: 'socket hang up' }))).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '5' },
    });
    expect(mapped(new StripeGatewayError({ kind: 'rate_limited' })).status).toBe(503);
    const auth = mapped(new StripeGatewayError({ kind: 'authentication' }));
    expect(auth.status).toBe(502);
    expect(auth.body.error).toEqual({
      code: 'payment_provider_error',
      message: 'The payment provider refused the request',
    });
  });

  it('answers 500 with a generic message for anything unexpected, never its message or stack', () => {
    const error = new Error('relation "invoices" does not exist at /work/main/src/x.ts:12');
    const result = mapped(error);
    expect(result).toEqual({
      status: 500,
      body: { success: false, error: { code: 'internal_error', message: 'Internal server error' } },
    });
  });

  it("sends fixed texts for body-parser failures, which may quote the client's body", () => {
    expect(
      mapped(Object.assign(new SyntaxError('Unexpected token s in "secret"'), { type: 'entity.parse.failed' })),
    ).toEqual({
      status: 400,
      body: { success: false, error: { code: 'invalid_json', message: 'The request body is not valid JSON' } },
    });
    expect(mapped(Object.assign(new Error('too large'), { type: 'entity.too.large' })).status).toBe(413);
  });
});
