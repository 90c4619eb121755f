import { execFile } from 'node:child_process';
import path from 'node:path';
import { discover } from '../scripts/bench';
import { ROOT, built } from './helpers/build';

/**
 * The benchmarks' command line (scripts/lib/bench-util.ts `benchCommandLine`), as someone typing
 * `npm run bench -- --help` meets it: the compiled scripts (built once per run by the e2e project's global setup).
 * None of them may start a benchmark here: their database points at a port nothing listens on, so one that went on
 * instead of answering would fail on it, not measure.
 */
const scripts = ['bench', ...discover(path.join(ROOT, 'scripts')).map((name) => `bench-${name}`)];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [built(`scripts/${script}.js`), ...args],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          BENCH_DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

const command = (script: string): string => `npm run ${script.replace(/^bench-/, 'bench:')}`;
const STACK_LINE = /^\s+at /m;

describe('the benchmark scripts’ command line (compiled)', () => {
  it('finds every benchmark script', () => {
    expect(scripts).toEqual(expect.arrayContaining(['bench', 'bench-billing', 'bench-month', 'bench-webhooks']));
  });

  it.each(scripts)('%s --help prints its usage and options, exit 0', async (script) => {
    const ran = await run(script, ['--help']);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout.startsWith(`Usage: ${command(script)} -- [options]\n`)).toBe(true);
    expect(ran.stdout).toMatch(/^ {2}--smoke +\S/m);
    expect(ran.stdout).toMatch(/^ {2}--help +this help$/m);
  });

  it.each(scripts)('%s refuses an unknown option in one line and a pointer to --help, exit 2', async (script) => {
    const ran = await run(script, ['--smoke', '--no-such-option']);
    expect(ran).toMatchObject({ code: 2, stdout: '' });
    expect(ran.stderr).toBe(`Unknown option --no-such-option\nRun \`${command(script)} -- --help\` for the options.\n`);
    expect(ran.stderr).not.toMatch(STACK_LINE);
  });

  it.each([
    ['bench', ['--rounds', 'three'], '--rounds must be a number (got "three")'],
    ['bench-ingest', ['--batches', '2k'], '--batches must be a number (got "2k")'],
    ['bench-billing', ['--customers'], '--customers needs a value'],
    ['bench-emulator', ['--workload', 'all'], '--workload must be both, retrieve, mixed, got "all"'],
  ])('%s %j is a usage error too, exit 2', async (script, args, message) => {
    const ran = await run(script, args);
    expect(ran).toMatchObject({ code: 2, stdout: '' });
    expect(ran.stderr.split('\n')[0]).toBe(message);
    expect(ran.stderr).not.toMatch(STACK_LINE);
  });
});
