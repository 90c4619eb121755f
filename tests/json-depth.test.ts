import { Role } from '../src/entities/enums';
import { acknowledged, RawSocket } from './fuzz/raw-socket';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';

/**
 * JSON nesting deeper than 64 levels is refused by every transport before anything recursive reads it. Found by the
 * fuzz suite (tests/fuzz): 5,000 levels in graphql-ws variables, a ping's payload or a connection_init payload
 * overflowed the stack (JSON.stringify) and closed the socket 4500 "Maximum call stack size exceeded".
 */
const deep = (levels: number): string => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
const DEPTH_MESSAGE = /nest arrays and objects at most 64 levels deep|nests deeper than 64 levels|nests too deep/;

describe('deep JSON', () => {
  let t: TestServer;
  let admin: string;
  let service: string;
  beforeAll(async () => {
    t = await startTestServer();
    admin = await t.token('depth-admin', Role.ADMIN);
    service = await t.token('depth-service', Role.SERVICE);
  });
  afterAll(() => t.close());

  describe('over graphql-ws', () => {
    it.each([
      ['a ping', (s: RawSocket) => s.send(`{"type":"ping","payload":{"p":${deep(5000)}}}`)],
      [
        'subscribe variables',
        (s: RawSocket) =>
          s.send(
            `{"id":"1","type":"subscribe","payload":{"query":"query ($v: Int) { me { userId } }","variables":{"v":${deep(5000)}}}}`,
          ),
      ],
    ])('closes the socket 4400 for %s nesting deeper than 64 levels (was 4500)', async (_name, send) => {
      const socket = await acknowledged(t.wsUrl, admin);
      send(socket);
      await socket.until(() => false, 'the close');
      expect(socket.closed).toEqual({ code: 4400, reason: expect.stringMatching(DEPTH_MESSAGE) });
    });

    it('closes the socket 4400 for a connection_init payload nesting 5,000 levels (was 4500)', async () => {
      const socket = await RawSocket.open(t.wsUrl);
      socket.send(`{"type":"connection_init","payload":{"authorization":"Bearer x","p":${deep(5000)}}}`);
      await socket.until(() => false, 'the close');
      expect(socket.closed).toEqual({ code: 4400, reason: expect.stringMatching(DEPTH_MESSAGE) });
    });

    it('still answers a message of 64 levels', async () => {
      const socket = await acknowledged(t.wsUrl, admin);
      // The message, its payload and 62 levels in it.
      socket.send(`{"type":"ping","payload":{"p":${deep(62)}}}`);
      await socket.until(() => socket.messages().some((m) => m.type === 'pong'), 'the pong');
      expect(socket.closed).toBeNull();
      await socket.close();
    });
  });

  describe('over HTTP', () => {
    const post = async (path: string, body: string, token: string) => {
      const res = await fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
      return { status: res.status, body: (await res.json()) as Record<string, never> };
    };

    it.each([
      ['POST /graphql', '/graphql', `{"query":"{ me { userId } }","variables":{"v":${deep(63)}}}`],
      ['POST /api/v1/usage', '/api/v1/usage', `{"events":[{"metadata":${deep(62)}}]}`],
    ])(
      '%s: a body nesting 65 levels → 400 invalid_request naming the limit, before it is parsed',
      async (_name, path, body) => {
        const res = await post(path, body, service);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          success: false,
          error: { code: 'invalid_request', message: 'JSON may nest arrays and objects at most 64 levels deep' },
        });
      },
    );

    it('POST /graphql: 64 levels are parsed as usual', async () => {
      const res = await post('/graphql', `{"query":"{ me { userId } }","variables":{"v":${deep(62)}}}`, service);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ data: { me: { userId: 'depth-service' } } });
    });

    it('GET /graphql: variables nesting deeper are refused with BAD_USER_INPUT', async () => {
      const params = new URLSearchParams({ query: '{ me { userId } }', variables: `{"v":${deep(2000)}}` });
      const res = await fetch(`${t.graphqlUrl}?${params}`, {
        headers: { authorization: `Bearer ${service}`, 'apollo-require-preflight': 'true' },
      });
      const body = (await res.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
      expect(res.status).toBe(400);
      expect(body.errors[0]).toMatchObject({
        message: expect.stringMatching(DEPTH_MESSAGE),
        extensions: { code: 'BAD_USER_INPUT' },
      });
    });
  });
});
