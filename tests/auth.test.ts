import { decodeJwt } from 'jose';
import { MeDocument } from './generated/graphql';
import { Role } from '../src/entities/enums';
import { ManualClock } from './helpers/clock';
import type { TestServer } from './helpers/server';
import { startTestServer, wsExecute } from './helpers/server';

describe('authentication', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  const unauthenticated = (res: Awaited<ReturnType<TestServer['gql']>>): string => {
    expect(res.status).toBe(401);
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    return res.body.errors?.[0].message ?? '';
  };

  it('rejects a request without a token', async () => {
    expect(unauthenticated(await t.gql(MeDocument, {}, { token: null }))).toMatch(/Authorization: Bearer/);
  });

  it('rejects a malformed Authorization header', async () => {
    const res = await t.gql(MeDocument, {}, { headers: { authorization: 'Token abc' } });
    expect(unauthenticated(res)).toMatch(/Bearer <token>/);
  });

  it('rejects a token signed with another secret', async () => {
    const token = await t.token('u1', Role.USER, { secret: 'another-secret-0123456789abcdef0123456789' });
    expect(unauthenticated(await t.gql(MeDocument, {}, { token }))).toBe('Token signature is invalid');
  });

  it('rejects an expired token', async () => {
    const token = await t.token('u1', Role.USER, { expiresIn: '-1m' });
    expect(unauthenticated(await t.gql(MeDocument, {}, { token }))).toBe('Token has expired');
  });

  it('rejects garbage', async () => {
    expect(unauthenticated(await t.gql(MeDocument, {}, { token: 'not.a.jwt' }))).toMatch(/malformed/);
  });

  it.each([Role.USER, Role.ADMIN, Role.SERVICE])('accepts a valid %s token', async (role) => {
    const token = await t.token(`user-${role}`, role);
    const res = await t.gql(MeDocument, {}, { token });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.me.userId).toBe(`user-${role}`);
  });

  it('reads the token from connection_init on graphql-ws', async () => {
    const token = await t.token('ws-user');
    const result = await wsExecute<{ me: { userId: string } }>(t.wsClient(token), '{ me { userId } }');
    expect(result.data?.me.userId).toBe('ws-user');
  });

  it('closes a graphql-ws connection without a valid token with 4401', async () => {
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      const client = t.wsClient(undefined, { onClose: resolve });
      client.subscribe(
        { query: '{ me { id } }' },
        { next: () => undefined, error: () => undefined, complete: () => undefined },
      );
    });
    const event = await closed;
    expect(event.code).toBe(4401);
    expect(event.reason).toMatch(/Authentication required/);
  });
});

describe('token expiry on the server clock', () => {
  // The server's own clock decides expiry: the test moves it past the token's exp instead of waiting an hour.
  const clock = new ManualClock();
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { clock });
  });
  afterAll(() => t.close());

  it('accepts a token until its exp, then answers "Token has expired", over HTTP and graphql-ws', async () => {
    const token = await t.token('u-expiring', Role.USER, { expiresIn: '1h' });
    const { exp } = decodeJwt(token);
    clock.set((exp as number) * 1000 - 1000);
    expect((await t.gql(MeDocument, {}, { token })).body.data?.me.userId).toBe('u-expiring');

    clock.set((exp as number) * 1000 + 1000);
    const res = await t.gql(MeDocument, {}, { token });
    expect(res.status).toBe(401);
    expect(res.body.errors?.[0]).toMatchObject({
      message: 'Token has expired',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      t.wsClient(token, { onClose: resolve }).subscribe(
        { query: '{ me { id } }' },
        { next: () => undefined, error: () => undefined, complete: () => undefined },
      );
    });
    expect(closed).toMatchObject({ code: 4401, reason: 'Token has expired' });
  });
});
