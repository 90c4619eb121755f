import fc from 'fast-check';
import type { FuzzTarget } from './fuzz-harness';
import {
  Findings,
  anyJson,
  answerProblems,
  deepJson,
  fuzzParameters,
  hostileString,
  internalErrors,
  leak,
} from './fuzz-harness';
import { RawSocket } from './raw-socket';

/**
 * graphql-ws frames at `/graphql`: connection_init with any payload (or none, or twice), subscribe/complete/ping/pong
 * with fields of the wrong type, unknown message types, JSON that is not an object, text that is not JSON, binary
 * frames, deep nesting and frames over the 1 MiB cap, in any order. Whatever arrives: the server answers each socket
 * (a pong, or a close with a client-error code: never 4500 or 1011, the protocol's 500), sends no stack trace, file
 * path or SQL in any frame or close reason, logs no unexpected failure, and still answers /healthz.
 */
const RUNS = 100;
const MIB = 1024 * 1024;

const QUERIES = [
  '{ me { userId } }',
  'query ($p: String!) { usageSummary(period: $p) { userId subtotal { formatted } } }',
  'subscription { paymentStatusChanged { invoiceId status } }',
  'subscription ($i: ID) { paymentStatusChanged(invoiceId: $i) { status } }',
  'mutation { cancelInvoice(invoiceId: "00000000-0000-0000-0000-000000000000") { __typename } }',
  '{ __schema { queryType { name } } }',
  '{',
  '',
];

/** One frame as sent: text (JSON or not) or binary. */
type Frame = { text: string } | { binary: Uint8Array };

const json = (value: unknown): Frame => ({ text: JSON.stringify(value) ?? 'null' });

/** Frames of every kind, most of them almost right. */
function frames(token: string): fc.Arbitrary<Frame> {
  const id = fc.oneof(fc.constantFrom('1', '2', 'a'), hostileString, anyJson);
  const payload = fc.record(
    {
      query: fc.oneof(fc.constantFrom(...QUERIES), hostileString, anyJson),
      variables: fc.oneof(fc.constant({ p: '2024-01', i: '00000000-0000-0000-0000-000000000000' }), anyJson),
      operationName: fc.oneof(hostileString, anyJson),
      extensions: anyJson,
    },
    { requiredKeys: ['query'] },
  );
  return fc.oneof(
    // Right in shape, hostile in content.
    {
      weight: 4,
      arbitrary: fc
        .record({ id, payload })
        .map(({ id: i, payload: p }) => json({ id: i, type: 'subscribe', payload: p })),
    },
    { weight: 1, arbitrary: id.map((i) => json({ id: i, type: 'complete' })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('ping', 'pong').chain((type) => anyJson.map((p) => json({ type, payload: p }))),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.constant({ authorization: `Bearer ${token}` }), anyJson)
        .map((p) => json({ type: 'connection_init', payload: p })),
    },
    // Wrong in shape.
    { weight: 1, arbitrary: fc.record({ type: hostileString, id, payload: anyJson }).map(json) },
    { weight: 1, arbitrary: anyJson.map(json) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          hostileString,
          fc.constantFrom('{', '{"type":', 'null', '[]', '{"type":"ping"', '\u0000', '{"type":"ping"}{"type":"ping"}'),
        )
        .map((text) => ({ text })),
    },
    {
      weight: 1,
      arbitrary: deepJson.map((deep) => ({
        text: `{"type":"subscribe","id":"deep","payload":{"query":"{ me { userId } }","variables":{"v":${deep}}}}`,
      })),
    },
    { weight: 1, arbitrary: deepJson.map((deep) => ({ text: `{"type":"ping","payload":{"p":${deep}}}` })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((binary) => ({ binary })) },
    // Over the 1 MiB cap (close 1009), rarely: it is a megabyte each time.
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(MIB - 64, MIB + 1)
        .map((size) => ({ text: `{"type":"ping","payload":{"p":"${'x'.repeat(size)}"}}` })),
    },
  );
}

export async function fuzzWebSocket({ t, tokens, takeFailures }: FuzzTarget): Promise<Findings> {
  const findings = new Findings('websocket');
  const token = tokens.admin as string;
  const cases = fc.record({
    protocols: fc.oneof(
      { weight: 8, arbitrary: fc.constant(['graphql-transport-ws']) },
      { weight: 1, arbitrary: fc.constantFrom([], ['graphql-ws'], ['graphql-transport-ws', 'x'], ['bogus']) },
    ),
    // Mostly an acknowledged connection first, so frames reach the operations.
    init: fc.constantFrom('valid', 'valid', 'valid', 'none'),
    frames: fc.array(frames(token), { minLength: 1, maxLength: 4 }),
  });
  const closes = new Map<number, number>();
  findings.begin();
  await fc.assert(
    fc.asyncProperty(cases, async (sent) => {
      const what = `protocols ${JSON.stringify(sent.protocols)}, init ${sent.init}, frames ${sent.frames
        .map((f) => ('text' in f ? f.text.slice(0, 150) : `<${f.binary.length} bytes>`))
        .join(' | ')}`;
      let socket: RawSocket;
      try {
        socket = await RawSocket.open(t.wsUrl, sent.protocols);
      } catch (error) {
        // A protocol the server does not speak is refused at the upgrade (ws's client fails the handshake when the
        // server picks none of the protocols it offered): an answer, unless a 5xx.
        const refused = /upgrade refused: HTTP 4\d\d|Server sent no subprotocol/.test(String(error));
        findings.check(refused ? [] : [String(error)], what);
        return;
      }
      if (sent.init === 'valid') {
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
        await socket.until(() => socket.messages().some((m) => m.type === 'connection_ack'), `${what}: ack`);
      }
      for (const frame of sent.frames) {
        if ('text' in frame) {
          socket.send(frame.text);
        } else {
          socket.send(Buffer.from(frame.binary), true);
        }
      }
      // The hang detector: a ping after the frames is answered with a pong, or the socket has been closed.
      const pongs = socket.messages().filter((m) => m.type === 'pong').length;
      socket.send(JSON.stringify({ type: 'ping', payload: { probe: true } }));
      await socket.until(
        () => socket.messages().filter((m) => m.type === 'pong').length > pongs,
        `${what}: a pong or a close`,
      );
      await socket.close();
      const closed = socket.closed;
      closes.set(closed?.code ?? 0, (closes.get(closed?.code ?? 0) ?? 0) + 1);
      const problems = socket.frames.flatMap((text) => answerProblems(text));
      for (const message of socket.messages()) {
        problems.push(...internalErrors(message.payload).map((e) => `INTERNAL_SERVER_ERROR: ${e}`));
      }
      if (closed && (closed.code === 4500 || closed.code === 1011 || leak(closed.reason))) {
        problems.push(`closed ${closed.code} ${closed.reason}`);
      }
      // Logged failures, and what graphql-ws prints to the console for what it takes for an internal error.
      problems.push(...takeFailures());
      findings.check(problems, what);
    }),
    fuzzParameters('websocket', RUNS),
  );
  findings.summary(`close codes ${JSON.stringify(Object.fromEntries(closes))}`);
  return findings;
}
