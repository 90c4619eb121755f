/**
 * What the benchmark scripts share besides their output contract (bench-row.ts): their command line, the machine's
 * load, medians, a short-lived `pg` client, a scratch database and a light HTTP client.
 */
import http from 'node:http';
import { constants, loadavg } from 'node:os';
import { Client } from 'pg';
import { COMMON_OPTIONS, UsageError, numberFlag, numbersFlag, optionHelp, parseCommandLine } from '../../src/cli/args';
import type { Flags, OptionTable } from '../../src/cli/args';

/** A benchmark's parsed command line. */
export interface BenchCommandLine {
  flags: Flags;
  /** `--name N` as a number, `fallback` when absent; not a number: `refuse`. */
  number(name: string, fallback: number): number;
  /** `--name N,M` as positive whole numbers, `fallback` when absent; any other entry: `refuse`. */
  numbers(name: string, fallback: number[]): number[];
  /** Ends the script on a command line it cannot take: the one line, a pointer to --help, exit code 2. */
  refuse(message: string): never;
}

/**
 * Reads a benchmark's command line (`argv`, by default this process's) against its `options` (plus `--help`), as the
 * operator CLI reads its own (src/cli/args.ts): `--help` or `-h` prints the usage of `command` (e.g.
 * `npm run bench:page`), `about` and the options, and exits 0; an option it does not take, a value missing or given
 * to a switch, or a number (or an entry of a list of them) that is not one, is one line on stderr with a pointer to
 * --help and exit code 2, never a stack trace (and no benchmark runs). Read every option before making a scratch
 * database: `number`, `numbers` and `refuse` exit at once, without its drop.
 */
export function benchCommandLine(
  command: string,
  about: string,
  options: OptionTable,
  argv: string[] = process.argv.slice(2),
): BenchCommandLine {
  const table: OptionTable = { ...options, help: COMMON_OPTIONS.help };
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`Usage: ${command} -- [options]\n\n${about}\n\nOptions:\n${optionHelp(table)}\n`);
    process.exit(0);
  }
  const refuse = (message: string): never => {
    process.stderr.write(`${message}\nRun \`${command} -- --help\` for the options.\n`);
    process.exit(2);
  };
  const usage = <T>(read: () => T): T => {
    try {
      return read();
    } catch (error) {
      if (error instanceof UsageError) {
        return refuse(error.message);
      }
      throw error;
    }
  };
  const flags = usage(() => parseCommandLine(argv, table).flags);
  return {
    flags,
    number: (name, fallback) => usage(() => numberFlag(flags, name, fallback)),
    numbers: (name, fallback) => usage(() => numbersFlag(flags, name, fallback)),
    refuse,
  };
}

/** The machine's three load averages (`1.84, 0.77, 0.30`), printed beside figures taken on a shared machine. */
export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
}

/** The median (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `fn` with a connected client on `url`, closed afterwards. */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The server the benchmarks make their scratch databases on: BENCH_DATABASE_URL, else the local PostgreSQL. */
export const benchServerUrl = (): string =>
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * What a signal must undo before the script exits: drops of the scratch databases alive now, local Stripes running,
 * a temporary folder.
 */
const undos = new Set<() => unknown>();

/**
 * Set once a signal is being handled: the run's failures from then on are the undos' own doing (a forced drop ends the
 * script's connections mid-query), not news; the signal's exit code is the outcome (runBench).
 */
let stopping = false;

function undoAndExit(signal: NodeJS.Signals): void {
  stopping = true;
  // A second signal is not held up by this one's undos.
  process.off('SIGTERM', undoAndExit).off('SIGINT', undoAndExit);
  // Failures outside the run's promise chain too, e.g. the 'error' of a pool's idle connection the drop ended: without
  // a listener, Node prints them and exits 1 before the undos are done.
  process.on('uncaughtException', () => undefined);
  void Promise.allSettled([...undos].map(async (undo) => undo())).finally(() =>
    process.exit(128 + constants.signals[signal]),
  );
}

/**
 * Has `undo` run when SIGTERM (`npm run bench` stops a script that outlives its --timeout; or a plain `kill`) or
 * SIGINT stops the script, before it exits with 128 + the signal's number; until the function it answers is called.
 * Without it a signal ends the script at once: no `finally`, no 'exit' listener runs.
 */
export function undoOnSignal(undo: () => unknown): () => void {
  // An entry of its own: the same `undo` given twice is forgotten once per call.
  const entry = (): unknown => undo();
  if (undos.size === 0) {
    process.on('SIGTERM', undoAndExit).on('SIGINT', undoAndExit);
  }
  undos.add(entry);
  return () => {
    if (undos.delete(entry) && undos.size === 0) {
      process.off('SIGTERM', undoAndExit).off('SIGINT', undoAndExit);
    }
  };
}

/**
 * Runs a script's `main` as its last line: a number it answers is the exit code; a failure is its stack on stderr and
 * exit code 1, unless a signal is being handled (undoOnSignal), whose exit (128 + its number, after every undo) is
 * then the only outcome: no stack for the connections its drops ended, no exit 1 before the undos are done.
 */
export function runBench(main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      if (typeof code === 'number' && !stopping) {
        process.exit(code);
      }
    },
    (error: unknown) => {
      if (stopping) {
        return;
      }
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}

/**
 * Runs `fn` with the URL of a new database `name` on the server of `serverUrl`, and drops it afterwards: when `fn`
 * fails too, and when the script is stopped by SIGTERM or SIGINT (undoOnSignal), so no benchmark leaves gigabytes of
 * rows behind.
 */
export async function withScratchDatabase<T>(
  serverUrl: string,
  name: string,
  fn: (url: string) => Promise<T>,
): Promise<T> {
  await withClient(serverUrl, (c) => c.query(`create database "${name}"`));
  const drop = (): Promise<unknown> =>
    withClient(serverUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
  const forget = undoOnSignal(drop);
  try {
    return await fn(databaseUrl(serverUrl, name));
  } finally {
    try {
      await drop();
    } finally {
      forget();
    }
  }
}

/**
 * One POST of a JSON payload on node:http with `agent` (keep-alive: lighter than fetch, so the servers, not the
 * client, dominate the figures); answers the status and, unless `body: false`, the body.
 */
export function postJson(
  agent: http.Agent,
  url: string,
  payload: string,
  headers: Record<string, string>,
  options: { body?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        if (options.body === false) {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: '' }));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
