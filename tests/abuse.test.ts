import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path_ from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { Role } from '../src/entities/enums';
import type { TestServer } from './helpers/server';
import { TEST_JWT_SECRET, startTestServer, wsExecute } from './helpers/server';

/**
 * The attacks of issue 17, each against a real server over HTTP or WebSocket: each is answered with its code, while
 * `/healthz` (polled without pause meanwhile) keeps answering. The server runs in this process, so a request that
 * blocks the event loop shows up as a slow /healthz. Speed is measured, not asserted: the figures are printed (on an
 * idle machine 17–372 ms per attack, /healthz ≤ 135 ms; the target is 100 ms). The bounds below catch a stall
 * (a body parsed for seconds, a hung answer), not a slow machine: at load average 17 answers took up to 2.5 s.
 */
const ANSWER_WITHIN_MS = 10_000;
const HEALTHZ_WITHIN_MS = 10_000;
const BIG = 15.7 * 1024 * 1024;
const TEN_MB = 10 * 1024 * 1024;

/** The attacker: sends one file as a POST body and prints the status, the answer and how long it took. */
const SEND = `
const [url, file, headers] = process.argv.slice(1);
const body = require('node:fs').readFileSync(file);
const started = performance.now();
fetch(url, { method: 'POST', headers: JSON.parse(headers), body }).then(async (res) => {
  const text = await res.text();
  process.stdout.write(JSON.stringify({ status: res.status, text, elapsed: performance.now() - started }));
});
`;
const execFileAsync = promisify(execFile);
const bodies = mkdtempSync(path_.join(tmpdir(), 'abuse-'));
let bodyCount = 0;
afterAll(() => rmSync(bodies, { recursive: true, force: true }));

describe('abuse: each attack answered with its code, quickly, while /healthz answers', () => {
  let t: TestServer;
  let service: string;
  let stopMonitor: () => Promise<number>;
  const timings: string[] = [];
  const healthFailures: string[] = [];
  /** The slowest /healthz answer since the current attack started. */
  let slowestInWindow = 0;

  beforeAll(async () => {
    t = await startTestServer();
    service = await t.token('platform', Role.SERVICE);
    // /healthz, one request after another, for as long as the attacks run: the slowest answer is what counts.
    let running = true;
    let slowest = 0;
    const loop = (async () => {
      while (running) {
        const started = performance.now();
        try {
          const res = await fetch(`${t.url}/healthz`);
          await res.arrayBuffer();
          if (res.status !== 200) {
            healthFailures.push(`HTTP ${res.status}`);
          }
        } catch (error) {
          healthFailures.push(String(error));
        }
        const took = performance.now() - started;
        slowest = Math.max(slowest, took);
        slowestInWindow = Math.max(slowestInWindow, took);
      }
    })();
    stopMonitor = async () => {
      running = false;
      await loop;
      return slowest;
    };
  });

  afterAll(async () => {
    const slowest = await stopMonitor();
    process.stdout.write(`abuse: ${timings.join('; ')}; slowest /healthz meanwhile ${slowest.toFixed(1)} ms\n`);
    await t.close();
    expect(healthFailures).toEqual([]);
    expect(slowest).toBeLessThan(HEALTHZ_WITHIN_MS);
  });

  /** Runs an attack, checks it was answered within the bound, and records how long it took. */
  const timed = async <T extends { elapsed?: number }>(name: string, attack: () => Promise<T>): Promise<T> => {
    slowestInWindow = 0;
    const started = performance.now();
    const result = await attack();
    // An attack sent from another process reports its own figure (request sent to answer read).
    const elapsed = result.elapsed ?? performance.now() - started;
    timings.push(`${name} ${elapsed.toFixed(0)} ms (/healthz ≤ ${slowestInWindow.toFixed(0)} ms)`);
    expect(elapsed).toBeLessThan(ANSWER_WITHIN_MS);
    return result;
  };

  /**
   * POSTs `body` from a child process: the server runs in this one, and uploading megabytes from here would count the
   * client's own work against /healthz.
   */
  const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const file = path_.join(bodies, `${(bodyCount += 1)}.json`);
    writeFileSync(file, body);
    const { stdout } = await execFileAsync(
      process.execPath,
      [
        '-e',
        SEND,
        `${t.url}${path}`,
        file,
        JSON.stringify({ 'content-type': 'application/json', accept: 'application/json', ...headers }),
      ],
      { maxBuffer: 1024 * 1024 },
    );
    const { status, text, elapsed } = JSON.parse(stdout) as { status: number; text: string; elapsed: number };
    return { status, text, elapsed, json: JSON.parse(text) as Record<string, never> };
  };

  /**
   * 15.7 MB of JSON that is costly to parse: millions of tiny values, each one a call of the body's reviver. Built
   * once, before any attack is timed (this process is the client too).
   */
  const zeros = `[${'0,'.repeat(Math.floor(BIG / 2) - 20)}0]`;
  const bigQuery = `{"query":"{ me { userId } }","variables":{"pad":${zeros}}}`;
  const tenMegabytes = 'x'.repeat(TEN_MB);

  it('answers an anonymous 15.7 MB POST /graphql 401 UNAUTHENTICATED without parsing it', async () => {
    const res = await timed('anonymous 15.7 MB /graphql', () => post('/graphql', bigQuery));
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it('answers an anonymous 15.7 MB POST /graphql/stream (SSE) 401 UNAUTHENTICATED without parsing it', async () => {
    const res = await timed('anonymous 15.7 MB /graphql/stream', () =>
      post('/graphql/stream', bigQuery, { accept: 'text/event-stream' }),
    );
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it('answers an anonymous 15.7 MB POST /api/v1/usage 401 without parsing it (REST: token first, as before)', async () => {
    const res = await timed('anonymous 15.7 MB /api/v1/usage', () => post('/api/v1/usage', zeros));
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ error: { code: 'unauthenticated' } });
  });

  /**
   * A client that keeps uploading after its answer arrived, over a bare socket: the headers and 1 MB, then (once the
   * answer's first bytes are in) the other 14.7 MB the request declared, then its end. Resolves with the status line
   * when the connection closed cleanly; rejects if it was reset (EPIPE, ECONNRESET).
   */
  const uploadPastTheAnswer = (path: string, accept: string) =>
    new Promise<string>((resolve, reject) => {
      const chunk = Buffer.alloc(1024 * 1024, '0');
      const chunks = Math.round(BIG / chunk.length);
      const { hostname, port } = new URL(t.url);
      const socket = net.connect(Number(port), hostname);
      let answer = '';
      socket.on('error', reject);
      socket.on('close', (hadError) => (hadError ? reject(new Error('reset')) : resolve(answer.split('\r\n')[0])));
      socket.on('data', (data: Buffer) => {
        const first = answer === '';
        answer += data.toString('latin1');
        const pump = (sent: number): void => {
          if (sent === chunks) {
            socket.end();
          } else if (socket.write(chunk)) {
            pump(sent + 1);
          } else {
            socket.once('drain', () => pump(sent + 1));
          }
        };
        if (first) {
          pump(1);
        }
      });
      socket.write(
        `POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\naccept: ${accept}\r\n` +
          `content-length: ${chunks * chunk.length}\r\n\r\n`,
      );
      socket.write(chunk);
    });

  it.each([
    ['/graphql', 'application/json'],
    ['/graphql/stream', 'text/event-stream'],
    ['/api/v1/usage', 'application/json'],
  ])(
    'lets an anonymous client go on uploading to %s after its 401: the rest is dropped, not reset',
    async (path, accept) => {
      // Closing the connection with the body unread reset it: fetch failed with EPIPE in CI, and this client every time.
      await expect(uploadPastTheAnswer(path, accept)).resolves.toBe('HTTP/1.1 401 Unauthorized');
    },
  );

  it('refuses a 10 MB userId variable with BAD_USER_INPUT, echoing none of it', async () => {
    const query = 'query ($u: String, $p: String!) { usageSummary(userId: $u, period: $p) { userId } }';
    const body = JSON.stringify({ query, variables: { u: tenMegabytes, p: '2026-01' } });
    const res = await timed('10 MB userId variable', () =>
      post('/graphql', body, { authorization: `Bearer ${service}` }),
    );
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    expect(res.text.length).toBeLessThan(2000);
  });

  it('refuses a 10 MB document (a userId literal) with GRAPHQL_PARSE_FAILED before lexing it', async () => {
    const body = JSON.stringify({ query: `{ invoices(userId: "${tenMegabytes}") { totalCount } }` });
    const res = await timed('10 MB userId literal', () =>
      post('/graphql', body, { authorization: `Bearer ${service}` }),
    );
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    expect(res.text.length).toBeLessThan(2000);
  });

  it('refuses a 50,000-character userId literal with GRAPHQL_VALIDATION_FAILED, echoing none of it', async () => {
    const query = `{ invoices(userId: "${'x'.repeat(50_000)}") { totalCount } }`;
    const res = await timed('50,000-character userId literal', () =>
      post('/graphql', JSON.stringify({ query }), { authorization: `Bearer ${service}` }),
    );
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    expect(res.text.length).toBeLessThan(2000);
  });

  it("refuses setPrice's 10 MB metric in an input variable with BAD_USER_INPUT", async () => {
    const admin = await t.token('ops', Role.ADMIN);
    const query = 'mutation ($input: SetPriceInput!) { setPrice(input: $input) { __typename } }';
    const input = { metric: tenMegabytes, currency: 'USD', model: 'PER_UNIT', unitAmount: '1' };
    const body = JSON.stringify({ query, variables: { input } });
    const res = await timed('10 MB setPrice metric', () =>
      post('/graphql', body, { authorization: `Bearer ${admin}` }),
    );
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    expect(res.text.length).toBeLessThan(2000);
  });

  it('refuses an over-long userId over graphql-ws with the same rule', async () => {
    type Answer = { errors?: ReadonlyArray<{ extensions?: { code?: unknown } }>; elapsed?: number };
    const result = await timed('over-long userId over WebSocket', (): Promise<Answer> =>
      wsExecute(
        t.wsClient(service),
        'query ($u: String, $p: String!) { usageSummary(userId: $u, period: $p) { userId } }',
        { u: 'x'.repeat(20_000), p: '2026-01' },
      ).catch((errors: unknown) => ({ errors: errors as Answer['errors'] })),
    );
    expect(JSON.stringify(result).length).toBeLessThan(2000);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  const sign = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_JWT_SECRET));
  const now = (): number => Math.floor(Date.now() / 1000);

  it.each([
    ['an admin token without exp', { sub: 'ops', role: 'admin', iat: now() }],
    ['a token issued ten years ahead', { sub: 'u', iat: now() + 10 * 365 * 86_400, exp: now() + 3600 }],
    ['a token living a year', { sub: 'u', iat: now(), exp: now() + 365 * 86_400 }],
    ['a subject with NUL', { sub: 'victim\u0000', iat: now(), exp: now() + 3600 }],
    ['a subject with an unpaired surrogate', { sub: 'victim\ud800', iat: now(), exp: now() + 3600 }],
  ])('answers %s 401 UNAUTHENTICATED', async (name, claims) => {
    const token = await sign(claims);
    const res = await timed(name, () =>
      post('/graphql', JSON.stringify({ query: '{ me { userId } }' }), { authorization: `Bearer ${token}` }),
    );
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
  });

  it('answers a persisted query with a wrong hash PERSISTED_QUERY_NOT_SUPPORTED (APQ is off), not INTERNAL_SERVER_ERROR', async () => {
    const body = JSON.stringify({
      query: '{ me { userId } }',
      extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } },
    });
    const res = await timed('persisted query, wrong hash', () =>
      post('/graphql', body, { authorization: `Bearer ${service}` }),
    );
    // HTTP 200, as Apollo answers it: APQ clients read this code as "send the query text instead".
    expect(res.json).toMatchObject({ errors: [{ extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' } }] });
    expect(res.text).not.toContain('INTERNAL_SERVER_ERROR');
  });
});
