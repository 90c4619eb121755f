import { execFile, spawn } from 'node:child_process';
import { Client } from 'pg';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { discover } from '../scripts/bench';
import { withClient, withScratchDatabase } from '../scripts/lib/bench-util';
import { ROOT, built } from './helpers/build';
import { testServerUrl } from './helpers/database';

/**
 * The benchmarks' command line (scripts/lib/bench-util.ts `benchCommandLine`), as someone typing
 * `npm run bench -- --help` meets it: the compiled scripts (built once per run by the e2e project's global setup).
 * None of them may start a benchmark here: their database points at a port nothing listens on, so one that went on
 * instead of answering would fail on it, not measure. The recovery drill (`npm run drill:recovery`) reads its command
 * line the same way.
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
          DRILL_DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none',
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

const command = (script: string): string =>
  script === 'recovery-drill' ? 'npm run drill:recovery' : `npm run ${script.replace(/^bench-/, 'bench:')}`;
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
    // A list with one bad entry is refused whole: dropping the entry would measure less than was asked, silently.
    [
      'bench-live',
      ['--subscribers', '200,2k'],
      '--subscribers must be positive whole numbers separated by commas (got "200,2k")',
    ],
    [
      'bench-webhooks',
      ['--concurrency', '16,0'],
      '--concurrency must be positive whole numbers separated by commas (got "16,0")',
    ],
    [
      'bench-webhooks',
      ['--concurrency', '16,,64'],
      '--concurrency must be positive whole numbers separated by commas (got "16,,64")',
    ],
    [
      'bench-billing',
      ['--limits', '25,1.5'],
      '--limits must be positive whole numbers separated by commas (got "25,1.5")',
    ],
  ])('%s %j is a usage error too, exit 2', async (script, args, message) => {
    const ran = await run(script, args);
    expect(ran).toMatchObject({ code: 2, stdout: '' });
    expect(ran.stderr.split('\n')[0]).toBe(message);
    expect(ran.stderr).not.toMatch(STACK_LINE);
  });

  it('recovery-drill --help says what the drill does instead of running it, exit 0', async () => {
    const ran = await run('recovery-drill', ['--help']);
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout.startsWith('Usage: npm run drill:recovery -- [options]\n\nThe disaster-recovery drill')).toBe(
      true,
    );
    expect(ran.stdout).toMatch(/pg_dump.*pg_restore/s);
    expect(ran.stdout).toMatch(/^ {2}--help +this help$/m);
  });

  it('recovery-drill refuses an option it does not take in one line, exit 2', async () => {
    const ran = await run('recovery-drill', ['--smoke']);
    expect(ran).toMatchObject({ code: 2, stdout: '' });
    expect(ran.stderr).toBe('Unknown option --smoke\nRun `npm run drill:recovery -- --help` for the options.\n');
  });
});

describe('a local Stripe a benchmark started (spawnEmulator, compiled)', () => {
  // bench:month --database has no scratch database whose drop would end the script on a signal: this alone must.
  it('is stopped with the script when a SIGTERM stops it', async () => {
    const start = `require(${JSON.stringify(built('scripts/lib/emulator-process.js'))})
      .spawnEmulator().then(({ child }) => process.stdout.write(child.pid + '\\n'))`;
    const script = spawn(process.execPath, ['-e', start], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      script.once('exit', (code, signal) => resolve({ code, signal })),
    );
    // The local Stripe writes to its parent's stderr: the pipe closes only when it has ended as well.
    const closed = new Promise((resolve) => script.once('close', resolve));
    const emulatorPid = Number(
      await new Promise<string>((resolve) => script.stdout.once('data', (chunk: Buffer) => resolve(String(chunk)))),
    );
    script.kill('SIGTERM');
    const ended = await exited;
    if (ended.code !== 143) {
      process.kill(emulatorPid, 'SIGKILL');
    }
    expect(ended).toEqual({ code: 143, signal: null });
    await closed;
  });
});

// A scratch database is a database of its own on a PostgreSQL server; PGlite is in-process only.
const describeOnPostgres = testServerUrl() ? describe : describe.skip;

describeOnPostgres('a benchmark’s scratch database (withScratchDatabase)', () => {
  const serverUrl = testServerUrl() as string;
  const exists = (name: string): Promise<boolean> =>
    withClient(serverUrl, async (c) => {
      const { rows } = await c.query('select 1 from pg_database where datname = $1', [name]);
      return rows.length === 1;
    });

  it('is created for the run, reached at the URL it is given, and dropped after', async () => {
    const name = `bench_scratch_${randomBytes(4).toString('hex')}`;
    const listeners = (): number[] => [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const before = listeners();
    let during: number[] = [];
    const seen = await withScratchDatabase(serverUrl, name, (url) => {
      // While it exists, `npm run bench`'s SIGTERM (or a Ctrl-C) drops it before the script exits.
      during = listeners();
      return withClient(
        url,
        async (c) => (await c.query<{ db: string }>('select current_database() as db')).rows[0].db,
      );
    });
    expect(seen).toBe(name);
    expect(await exists(name)).toBe(false);
    expect(during).toEqual(before.map((n) => n + 1));
    expect(listeners()).toEqual(before);
  });

  it('is dropped when the run fails, and the failure is the caller’s', async () => {
    const name = `bench_scratch_${randomBytes(4).toString('hex')}`;
    // A connection the failed run left open (a pool not closed) does not keep it: the drop ends it.
    let leftOpen: Client | undefined;
    const failed = withScratchDatabase(serverUrl, name, async (url) => {
      leftOpen = new Client({ connectionString: url });
      leftOpen.on('error', () => undefined);
      await leftOpen.connect();
      throw new Error('the benchmark failed');
    });
    await expect(failed).rejects.toThrow('the benchmark failed');
    expect(await exists(name)).toBe(false);
    await leftOpen?.end().catch(() => undefined);
  });

  // The forced drop ends the script's own connections mid-query: its failure then must not beat the signal's exit.
  it('is dropped when a SIGTERM stops the script mid-run, which exits 143 without a stack (recovery drill)', async () => {
    // The drill's temporary folder is made under TMPDIR: one of the test's own, to see it go too.
    const tmp = mkdtempSync(path.join(tmpdir(), 'drill-signal-'));
    const drill = spawn(process.execPath, [built('scripts/recovery-drill.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: tmp, DRILL_DATABASE_URL: serverUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      let stderr = '';
      drill.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
      const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        drill.once('close', (code, signal) => resolve({ code, signal })),
      );
      // Its first line: the source database exists, the drill migrates it next.
      await new Promise<void>((resolve, reject) => {
        drill.stdout.on('data', (chunk: Buffer) => {
          stdout += String(chunk);
          if (stdout.includes('\n')) {
            resolve();
          }
        });
        drill.once('exit', () => reject(new Error(`the drill ended before its first line: ${stdout}${stderr}`)));
      });
      expect(stdout).toMatch(new RegExp(`source database drill_${drill.pid}_\\w+_source`));
      drill.kill('SIGTERM');
      expect(await closed).toEqual({ code: 143, signal: null });
      expect(stderr).not.toMatch(STACK_LINE);
      const left = await withClient(serverUrl, async (c) => {
        const { rows } = await c.query<{ datname: string }>('select datname from pg_database where datname like $1', [
          `drill\\_${drill.pid}\\_%`,
        ]);
        return rows.map((row) => row.datname);
      });
      expect(left).toEqual([]);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (drill.exitCode === null && drill.signalCode === null) {
        drill.kill('SIGKILL');
      }
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
