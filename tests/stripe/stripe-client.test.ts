import { createStripeClient, parseApiBase, toStripeAmount } from '../../src/stripe';

describe('parseApiBase', () => {
  it('turns a URL into the SDK host, port and protocol', () => {
    expect(parseApiBase('http://127.0.0.1:12111')).toEqual({ host: '127.0.0.1', port: 12111, protocol: 'http' });
    expect(parseApiBase('http://127.0.0.1:12111/v1')).toEqual({ host: '127.0.0.1', port: 12111, protocol: 'http' });
    expect(parseApiBase('https://stripe.internal')).toEqual({ host: 'stripe.internal', port: 443, protocol: 'https' });
    expect(parseApiBase('http://[::1]:9000/')).toEqual({ host: '::1', port: 9000, protocol: 'http' });
  });

  it('refuses what the SDK cannot express, without echoing the value', () => {
    expect(() => parseApiBase('ftp://x')).toThrow(/http/);
    expect(() => parseApiBase('http://x/custom/path')).toThrow(/origin/);
    expect(() => parseApiBase('http://user:hunter2@')).toThrow();
    try {
      parseApiBase('not a url hunter2');
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});

describe('createStripeClient', () => {
  it('applies retries and timeout defaults', () => {
    const stripe = createStripeClient({ secretKey: 'sk_test_x', apiBase: 'http://127.0.0.1:1' });
    expect(stripe.getMaxNetworkRetries()).toBe(2);
    expect(stripe.getApiField('timeout')).toBe(20_000);
    expect(stripe.getApiField('host')).toBe('127.0.0.1');
  });

  it('requires a key', () => {
    expect(() => createStripeClient({ secretKey: '' })).toThrow(/secret key/);
  });
});

describe('toStripeAmount', () => {
  it('converts safe integers exactly', () => {
    expect(toStripeAmount(0n)).toBe(0);
    expect(toStripeAmount(-150n)).toBe(-150);
    expect(toStripeAmount(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses amounts a number cannot hold', () => {
    expect(() => toStripeAmount(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toThrow(RangeError);
    expect(() => toStripeAmount(BigInt(Number.MIN_SAFE_INTEGER) - 1n)).toThrow(RangeError);
  });
});
