import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ipRateLimit } from '../../src/webhooks/ip-rate-limit';

describe('per-IP rate limit on the webhook route', () => {
  let clock = 0;
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    const limit = ipRateLimit({ perSecond: 10, burst: 5, now: () => clock });
    server = http.createServer((req, res) => {
      if (limit(req, res)) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('lets a burst through, then answers 429 with Retry-After until tokens refill', async () => {
    const send = async (): Promise<Response> => fetch(url, { method: 'POST' });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      statuses.push((await send()).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = await send();
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toEqual({
      error: { code: 'RATE_LIMITED', message: 'Too many requests; retry in 1 s' },
    });
    clock += 200; // 10/s → two tokens back
    expect([(await send()).status, (await send()).status, (await send()).status]).toEqual([200, 200, 429]);
  });
});
