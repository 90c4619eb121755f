import { FUZZ_TEST_TIMEOUT_MS, hangGuard, startFuzzTarget } from './fuzz-harness';
import type { FuzzTarget } from './fuzz-harness';
import { fuzzGraphql } from './graphql-fuzz';
import { fuzzRest } from './rest-fuzz';
import { fuzzWebSocket } from './websocket-fuzz';

/**
 * The fuzz suite (docs/testing.md, "Fuzzing"): fast-check against one real server over HTTP and WebSocket, with a
 * fixed seed (FUZZ_SEED, FUZZ_RUNS and FUZZ_KEEP_GOING to run it otherwise). Whatever it is sent, the server never
 * answers a 5xx or INTERNAL_SERVER_ERROR (nor closes a socket 4500/1011), never sends a stack trace, a file path or
 * SQL, logs no unexpected failure, answers every request within the budget, and still answers /healthz at the end.
 * One file and one server for the three suites: each file of its own paid seconds of module loading and startup.
 */
describe('fuzz', () => {
  let target: FuzzTarget & { stop(): Promise<void> };

  beforeAll(async () => {
    target = await startFuzzTarget();
  });

  afterAll(async () => {
    // Still serving after everything it was sent.
    const health = await fetch(`${target.t.url}/healthz`, { signal: hangGuard() });
    await target.stop();
    expect(health.status).toBe(200);
  });

  it(
    'GraphQL: every argument of every query, mutation and subscription, as variables and literals, over HTTP and WebSocket',
    async () => expect((await fuzzGraphql(target)).kept).toEqual([]),
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'REST: every route of the OpenAPI document, its paths, query strings, headers and bodies',
    async () => expect((await fuzzRest(target)).kept).toEqual([]),
    FUZZ_TEST_TIMEOUT_MS,
  );

  it(
    'graphql-ws: frames of every kind, in any order, malformed and oversize',
    async () => expect((await fuzzWebSocket(target)).kept).toEqual([]),
    FUZZ_TEST_TIMEOUT_MS,
  );
});
