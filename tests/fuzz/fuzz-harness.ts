import { Writable } from 'node:stream';
import fc from 'fast-check';
import { createLogger } from '../../src/config/logger';
import type { Logger } from '../../src/config/logger';
import { Role } from '../../src/entities/enums';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument } from '../generated/graphql';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';

/**
 * What every fuzz suite shares (docs/testing.md, "Fuzzing"): the seed and run count, the request budget that detects
 * a hang, the properties every answer must have, and the arbitraries for hostile values.
 *
 * The seed is fixed, so a run is reproducible and CI sees the same inputs every time; `FUZZ_SEED` picks another and
 * `FUZZ_RUNS` multiplies the number of cases (e.g. `FUZZ_SEED=$RANDOM FUZZ_RUNS=20 npm test -- tests/fuzz`).
 */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 17_017);
/** A factor on every part's own run count: 1 in CI (the file takes about 13 s on 2 busy cores; docs/testing.md). */
export const FUZZ_RUNS = Math.max(1, Number(process.env.FUZZ_RUNS ?? 1));

if (!Number.isSafeInteger(FUZZ_SEED)) {
  throw new Error(`FUZZ_SEED must be an integer, not ${process.env.FUZZ_SEED}`);
}

/** Each fuzz test's own timeout: jest's 120 s per test, times FUZZ_RUNS (a longer run needs longer). */
export const FUZZ_TEST_TIMEOUT_MS = 120_000 * FUZZ_RUNS;

/**
 * How long one answer may take before it counts as a hang: generous (a busy machine, a Stripe call), because it
 * detects an answer that never comes, not a slow one.
 */
export const ANSWER_BUDGET_MS = 30_000;

/**
 * `FUZZ_KEEP_GOING=1`: a failing case is recorded and the run goes on (each suite fails at its end, listing every
 * distinct failure), to collect what a long run finds in one go instead of stopping at the first.
 */
export const FUZZ_KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1';

/** Failures of one suite: thrown at once (fast-check then shrinks the case), or collected with FUZZ_KEEP_GOING. */
export class Findings {
  readonly kept: string[] = [];
  private cases = 0;
  private started = performance.now();

  constructor(private readonly suite: string) {}

  /** Starts the clock of `summary` (once the server is up and seeded). */
  begin(): void {
    this.started = performance.now();
  }

  /** Fails the current case with `problems` (if any), or records them and lets the run go on. */
  check(problems: string[], what: string): void {
    this.cases += 1;
    if (problems.length === 0) {
      return;
    }
    const report = `${what}:\n  ${problems.join('\n  ')}`;
    if (!FUZZ_KEEP_GOING) {
      throw new Error(report);
    }
    this.kept.push(report);
  }

  /** Prints how many cases ran and how long they took (the figure docs/testing.md keeps under its budget). */
  summary(detail = ''): void {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    process.stdout.write(`fuzz ${this.suite}: ${this.cases} cases in ${seconds} s${detail ? `; ${detail}` : ''}\n`);
  }
}

/** fast-check's settings for `runs` cases (times FUZZ_RUNS), printed so a failure can be replayed. */
export function fuzzParameters(suite: string, runs: number): fc.Parameters<unknown> {
  const numRuns = runs * FUZZ_RUNS;
  process.stdout.write(`fuzz ${suite}: seed ${FUZZ_SEED}, ${numRuns} runs (FUZZ_SEED, FUZZ_RUNS to change)\n`);
  return { seed: FUZZ_SEED, numRuns, endOnFailure: true };
}

/** A signal that aborts a request that has not been answered within the budget: a hang, reported as such. */
export function hangGuard(): AbortSignal {
  return AbortSignal.timeout(ANSWER_BUDGET_MS);
}

/** Throws "hang" for an aborted request, with what was sent; other failures as they are. */
export function explainFailure(error: unknown, what: string): never {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    throw new Error(`no answer within ${ANSWER_BUDGET_MS} ms (a hang): ${what}`);
  }
  throw error;
}

// --- What no answer may contain ---------------------------------------------------------------------------------

/** A stack trace or a path on the server's disk. */
const STACK = [
  /\n\s*at [^\n]*[(\s][^\s()]*:\d+:\d+/,
  /\bat (?:async )?[\w$.<>[\]]+ \([^)]*:\d+:\d+\)/,
  /\bnode:internal\b/,
  /[/\\](?:src|dist|node_modules|\.test-build)[/\\][\w./-]+\.(?:ts|js|mjs|cjs)\b/,
  /\.(?:ts|js|mjs|cjs):\d+(?::\d+)?/,
  /file:\/\//,
  /(?:^|[\s"'(=:])\/(?:home|root|work|tmp|usr|var|opt|srv|proc)\/\w/,
  /"stack(?:trace)?"\s*:/,
];

/** Text of the database's: SQL, or PostgreSQL's own messages. */
const SQL = [
  /\bselect\s/i,
  /\binsert\s/i,
  /\bupdate\s+"?\w+"?\s+set\b/i,
  /\bdelete\s+from\b/i,
  /syntax error at/i,
  /relation "/i,
  /column "/i,
  /invalid input syntax for/i,
  /invalid input value for enum/i,
  /invalid byte sequence for encoding/i,
  /unsupported Unicode escape sequence/i,
  /out of range for type/i,
  /violates \w+(?: \w+)? constraint/i,
  /duplicate key value/i,
  /current transaction is aborted/i,
  /\bDriverException\b|\bMikroORM\b|\bknex\b/,
];

/** Why `text` may not be sent to a client, or null. */
export function leak(text: string): string | null {
  for (const pattern of STACK) {
    if (pattern.test(text)) {
      return `a stack trace or file path (${pattern})`;
    }
  }
  for (const pattern of SQL) {
    if (pattern.test(text)) {
      return `SQL or database text (${pattern})`;
    }
  }
  return null;
}

/** Every string in a parsed JSON answer, keys included: a stack in a JSON string has its newlines escaped. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    out.push(value);
  } else if (Array.isArray(value)) {
    value.forEach((item) => strings(item, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      strings(item, out);
    }
  }
  return out;
}

/** The problems with an answer's text (the raw text and every string of it as JSON), if any. */
export function answerProblems(text: string): string[] {
  const problems: string[] = [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  for (const piece of [text, ...strings(parsed)]) {
    const found = leak(piece);
    if (found) {
      problems.push(`${found} in ${JSON.stringify(piece.slice(0, 300))}`);
      break;
    }
  }
  return problems;
}

/** A GraphQL answer's `INTERNAL_SERVER_ERROR`s: GraphQL's 500 (Apollo answers them with HTTP 200). */
export function internalErrors(parsed: unknown): string[] {
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  const list = Array.isArray(errors) ? errors : parsed && Array.isArray(parsed) ? parsed : [];
  return list
    .filter((error) => (error as { extensions?: { code?: unknown } })?.extensions?.code === 'INTERNAL_SERVER_ERROR')
    .map((error) => JSON.stringify(error).slice(0, 300));
}

/**
 * A logger that keeps what the server logs at level error (an unexpected failure: what would be a 500), for the
 * suites to report with the input that caused it.
 */
export function errorLog(): { logger: Logger; take(): string[] } {
  let lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return {
    logger: createLogger({ logLevel: 'error' }, sink),
    /** What requests logged since the last call (lines with a request id: not the webhook worker's own). */
    take() {
      const taken = lines.filter((line) => line.includes('"requestId"'));
      lines = [];
      return taken;
    },
  };
}

// --- The server under test --------------------------------------------------------------------------------------

/** The server every suite attacks, with what they may know of it. */
export interface FuzzTarget {
  t: TestServer;
  /** Bearer tokens by who holds them; `anonymous` sends none, `garbage` one that is not a JWT. */
  tokens: Record<'admin' | 'service' | 'owner' | 'stranger' | 'anonymous' | 'garbage', string | null>;
  /** Open invoices of `fuzz-user` (their months 2024-01 to 2024-03), so that requests reach the services. */
  invoiceIds: string[];
  /** What requests logged at level error, and what graphql-ws printed to the console, since the last call. */
  takeFailures(): string[];
}

/**
 * Starts the server (its own database and local Stripe), seeds the catalogue and three open invoices, and watches its
 * error log and the console. The console's `error` is replaced until `stop`.
 */
export async function startFuzzTarget(): Promise<FuzzTarget & { stop(): Promise<void> }> {
  const log = errorLog();
  const printed: string[] = [];
  const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    printed.push(args.map(String).join(' '));
  });
  const t = await startTestServer({}, { logger: log.logger });
  await seedDefaultCatalogue(t.database.db.orm.em.fork());
  const tokens: FuzzTarget['tokens'] = {
    admin: await t.token('fuzz-admin', Role.ADMIN),
    service: await t.token('fuzz-service', Role.SERVICE),
    owner: await t.token('fuzz-user'),
    stranger: await t.token('fuzz-other'),
    anonymous: null,
    garbage: 'not.a.token',
  };
  const op = await operator(t);
  const invoiceIds: string[] = [];
  for (const period of ['2024-01', '2024-02', '2024-03']) {
    await op.record([
      { userId: 'fuzz-user', metric: 'llm_input_tokens', quantity: '1234567', occurredAt: `${period}-15T10:00:00Z` },
    ]);
    const created = await t.gql(CreateInvoiceDocument, { period }, { token: tokens.owner });
    const invoice = created.body.data?.createInvoice;
    if (invoice?.__typename !== 'Invoice') {
      throw new Error(`seed invoice: ${JSON.stringify(created.body)}`);
    }
    invoiceIds.push(invoice.id);
  }
  log.take();
  return {
    t,
    tokens,
    invoiceIds,
    takeFailures: () => [
      ...log.take().map((line) => `logged: ${line.slice(0, 400)}`),
      ...printed.splice(0).map((line) => `console.error: ${line.slice(0, 300)}`),
    ],
    async stop() {
      spy.mockRestore();
      await t.close();
    },
  };
}

// --- Hostile values -------------------------------------------------------------------------------------------

/** Leaf texts that would themselves look like a leak when an error quotes them are not generated. */
const quotable = (text: string): boolean => leak(text) === null;

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const control = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));
const specials = fc.constantFrom('\u0000', '\ufffe', '\uffff', '\u2028', '\u202e', '\ufeff', '\\', '"', "'", '`', '$');

/** Any character: printable, any code point, NUL and other controls, lone surrogates, JSON's and SQL's specials. */
export const hostileChar = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 1, arbitrary: control },
  { weight: 1, arbitrary: specials },
);

/** Texts near and past the bounds (ids 500, reasons 5,000, metadata 2,000) and one past the 64 KiB variables cap. */
const longText = fc
  .tuple(
    fc.constantFrom(499, 500, 501, 1999, 2001, 4999, 5001, 20_000, 70_000),
    fc.constantFrom('x', 'é', '\u{1f600}', '\u0000', '\ud800'),
  )
  .map(([length, char]) => char.repeat(Math.ceil(length / char.length)));

/** Texts that mean something somewhere: valid-looking ids, months, SQL and format-string bait. */
const meaningful = fc.constantFrom(
  '',
  ' ',
  '2024-01',
  '2024-13',
  '0000-00',
  '2999-12',
  '1999-12-31T23:59:59Z',
  '2024-01-15T10:00:00+25:00',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'not-a-uuid',
  'pm_card_visa',
  'pm_card_chargeDeclined',
  'pm_',
  'in_123',
  'llm_input_tokens',
  'usd',
  'USD',
  'XXX',
  'invoice.*',
  '*',
  '%',
  '_',
  "'; drop table invoices; --",
  "' or '1'='1",
  '%s%s%n',
  '${7*7}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  '123',
  'true',
  'null',
  '\\u0000',
  'é',
  '\u{1f600}',
  '\ud800',
  'a\u0000b',
  '\udfffz',
);

/** A hostile string, mostly short. */
export const hostileString: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 5, arbitrary: fc.string({ unit: hostileChar, maxLength: 40 }) },
    { weight: 3, arbitrary: meaningful },
    { weight: 1, arbitrary: longText },
  )
  .filter(quotable);

/** Numbers of every awkward kind that JSON can carry (and a few that only a text body can: see `rawNumber`). */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53 - 1,
    2 ** 53 + 2,
    -(2 ** 53) - 2,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    0.5,
    1e21,
    1.5e300,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Number texts JSON.parse accepts but JavaScript cannot keep: overflow to Infinity, lose digits, underflow. */
export const rawNumber = fc.constantFrom(
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '0.0000000000000000000000000000000000000000000000000000000000000001',
  '1e-400',
  '-0.0',
  '9007199254740993',
);

/** Nesting deep enough to trouble a recursive parser or walker, in JSON text. */
export const deepJson = fc
  .tuple(fc.constantFrom(64, 500, 5_000, 50_000), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`);

/** Any JSON value, of any type, nested a little: what a field of the wrong type receives. */
export const anyJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      hostileString.filter((key) => key.length < 50),
      tie('value'),
      { maxKeys: 4 },
    ),
  ),
})).value;
