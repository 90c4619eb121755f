import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/config';
import { clientAddress, compileTrust, parseTrustProxy } from '../../src/config/trust-proxy';
import type { TrustProxySetting } from '../../src/config/trust-proxy';
import { ipRateLimit } from '../../src/webhooks/ip-rate-limit';
import { ManualClock } from '../helpers/clock';
import { TEST_WEBHOOK_SECRET, startTestServer } from '../helpers/server';
import { postWebhook, stripeEvent, stripeId } from './fixtures';

/** A server with only the limiter in front of a 200, its clock under the test's control. */
async function limitedServer(trustProxy: TrustProxySetting, clock: ManualClock) {
  const trust = compileTrust(trustProxy);
  const limit = ipRateLimit({
    perSecond: 10,
    burst: 5,
    clock,
    clientIp: (req) => clientAddress(req, trust),
  });
  const server = http.createServer((req, res) => {
    if (limit(req, res)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    send: (headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, { method: 'POST', headers }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('per-IP rate limit on the webhook route', () => {
  it('lets a burst through, then answers 429 with Retry-After until tokens refill', async () => {
    const clock = new ManualClock(0);
    const { send, close } = await limitedServer(false, clock);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i += 1) {
        statuses.push((await send()).status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const limited = await send();
      expect(limited.headers.get('retry-after')).toBe('1');
      expect(await limited.json()).toEqual({
        success: false,
        error: { code: 'rate_limited', message: 'Too many requests; retry in 1 s' },
      });
      clock.advance(200); // 10/s → two tokens back
      expect([(await send()).status, (await send()).status, (await send()).status]).toEqual([200, 200, 429]);
    } finally {
      await close();
    }
  });

  it('ignores a client-chosen X-Forwarded-For unless the peer is a trusted proxy (TRUST_PROXY)', async () => {
    const spoofed = (i: number) => ({ 'x-forwarded-for': `203.0.113.${i}` });
    const untrusted = await limitedServer(false, new ManualClock(0));
    try {
      const statuses = [];
      for (let i = 0; i < 7; i += 1) {
        statuses.push((await untrusted.send(spoofed(i))).status);
      }
      // A new forwarded address per request does not buy a new bucket.
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    } finally {
      await untrusted.close();
    }
    const behindProxy = await limitedServer(['loopback'], new ManualClock(0));
    try {
      const statuses = [];
      for (let i = 0; i < 7; i += 1) {
        statuses.push((await behindProxy.send(spoofed(i))).status);
      }
      // The test client connects from 127.0.0.1, a trusted proxy here: each forwarded client has its own bucket.
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200]);
    } finally {
      await behindProxy.close();
    }
  });

  it('reads TRUST_PROXY and names a bad value', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8']);
    expect(parseTrustProxy('true')).toBe(true);
    expect(() => loadConfig({ TRUST_PROXY: 'not-an-address' })).toThrow(/TRUST_PROXY: must be true, false/);
  });

  it('the real server keys its limit on the socket peer by default', async () => {
    // The server's clock stands still: no token comes back between requests, however slowly they are sent.
    const t = await startTestServer(
      { WEBHOOK_RATE_LIMIT_PER_SECOND: '1', WEBHOOK_RATE_LIMIT_BURST: '2' },
      { clock: new ManualClock() },
    );
    try {
      const statuses = [];
      for (let i = 0; i < 4; i += 1) {
        const event = stripeEvent('payout.paid', { id: stripeId('po') });
        const res = await fetch(`${t.url}/api/v1/webhooks/stripe`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-forwarded-for': `198.51.100.${i}`,
            'stripe-signature': (await import('stripe')).default.webhooks.generateTestHeaderString({
              payload: JSON.stringify(event),
              secret: TEST_WEBHOOK_SECRET,
            }),
          },
          body: JSON.stringify(event),
        });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 429, 429]);
      expect((await postWebhook(t.url, stripeEvent('payout.paid', { id: stripeId('po') }))).status).toBe(429);
    } finally {
      await t.close();
    }
  });
});
