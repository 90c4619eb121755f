import { Writable } from 'node:stream';
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/config/logger';
import { Role } from '../src/entities/enums';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const text = (): string => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('structured logs', () => {
  const out = capture();
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { logger: createLogger({ logLevel: 'info' }, out.stream) });
  });
  afterAll(() => t.close());

  it('writes one JSON line per request with its request id, and never the token', async () => {
    const token = await t.token('log-user');
    const res = await t.gql('{ me { id } }', undefined, { token, headers: { 'x-request-id': 'trace-me-1' } });
    expect(res.status).toBe(200);
    const line = out.lines().find((l) => l.requestId === 'trace-me-1');
    expect(line).toMatchObject({ msg: 'request', method: 'POST', path: '/graphql', status: 200 });
    expect(out.text()).not.toContain(token);
  });

  it("logs a caller's mistake as an answer, not as an error: runBilling with a malformed period", async () => {
    // Found by the fuzz suite: the BadInputError was logged at level error ("billing run failed") for any admin's typo.
    const admin = await t.token('log-admin', Role.ADMIN);
    const res = await t.gql('mutation { runBilling(period: "not-a-month") { __typename } }', undefined, {
      token: admin,
      headers: { 'x-request-id': 'typo-1' },
    });
    expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const lines = out.lines().filter((l) => l.requestId === 'typo-1');
    expect(lines).toEqual([expect.objectContaining({ msg: 'request', level: 30 })]);
  });

  it('redacts secrets even when a whole config or request is logged', () => {
    const sink = capture();
    const log = createLogger({ logLevel: 'info' }, sink.stream);
    const config = loadConfig({
      STRIPE_SECRET_KEY: 'sk_test_loggedsecretvalue123456',
      STRIPE_WEBHOOK_SECRET: 'whsec_loggedwebhooksecret',
      JWT_SECRET: 'logged-jwt-secret-0123456789abcdef012',
      DATABASE_URL: 'postgres://u:loggedpassword@db/x',
    });
    log.info({ config, req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'careless');
    const text = sink.text();
    expect(text).toContain('careless');
    for (const secret of [
      'loggedsecretvalue',
      'loggedwebhooksecret',
      'logged-jwt-secret',
      'loggedpassword',
      'abc.def.ghi',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});
