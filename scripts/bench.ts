/**
 * Every benchmark in one table: `npm run bench`.
 *
 *   npm run bench -- [--rounds 3] [--only billing,emulator] [--month-events 1000000] [--smoke] [--no-write]
 *
 * Runs each `scripts/bench-*.ts` (its `npm run bench:<name>` when package.json has one, which may set its
 * environment, else `dist/scripts/bench-<name>.js`) in a process of its own, one after another, with `--json` (and
 * `--smoke`), and collects the `BENCH_ROW {…}` lines they print (scripts/lib/bench-row.ts). Each round runs every
 * script, in an order rotated by one per round; a row's figure, baseline and ratio are the medians over the rounds.
 * The table (path, figure, baseline of the same run, ratio, target and whether it is met, RSS) is printed with the
 * machine's description (CPU, cores, RAM, Node.js, PostgreSQL, load average) and, unless `--smoke` or `--no-write`,
 * written into docs/benchmarks.md between its markers (with `--only`, the other benchmarks' rows are kept from the
 * table it replaces, with when they were measured). A script that does not follow the contract yet (refuses
 * `--json`/`--smoke`, or prints no row) is reported, not fatal; one that fails otherwise makes the exit code 1.
 * `--smoke` (CI) runs each script for a few seconds and judges no target. bench-month runs at `--month-events`
 * (one customer per 1,000 events), not at its own full default of 10 million, which takes about an hour a round.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { ROW_PREFIX, type BenchRow } from './lib/bench-row';
import { benchCommandLine, benchServerUrl, loadAverage, runBench } from './lib/bench-util';

const root = path.resolve(__dirname, '..', '..');
const DOC = path.join(root, 'docs', 'benchmarks.md');
export const TABLE_START = '<!-- bench-table:start (written by `npm run bench`; edit the text around it) -->';
export const TABLE_END = '<!-- bench-table:end -->';

interface Outcome {
  name: string;
  round: number;
  code: number | null;
  seconds: number;
  rows: BenchRow[];
  malformed: number;
  /** Why it is not in the table (or only partly), when it is not. */
  problem: string | null;
  /** The script does not follow the contract yet: reported, not fatal. */
  nonConforming: boolean;
}

/** The benchmark scripts: scripts/bench-<name>.ts, by name. */
export function discover(dir: string): string[] {
  return readdirSync(dir)
    .map((file) => /^bench-(.+)\.ts$/.exec(file)?.[1])
    .filter((name): name is string => Boolean(name))
    .sort();
}

/** A `BENCH_ROW` line's row, or null when it is not one the table can use. */
export function parseRow(line: string): BenchRow | null {
  try {
    const row = JSON.parse(line.slice(line.indexOf(ROW_PREFIX) + ROW_PREFIX.length)) as Partial<BenchRow>;
    if (typeof row.bench !== 'string' || typeof row.path !== 'string' || typeof row.figure !== 'number') {
      return null;
    }
    const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
    return {
      bench: row.bench,
      path: row.path,
      figure: row.figure,
      unit: typeof row.unit === 'string' ? row.unit : '',
      baseline: str(row.baseline),
      baselineFigure: num(row.baselineFigure),
      ratio: num(row.ratio),
      target: str(row.target),
      rssMb: num(row.rssMb),
    };
  } catch {
    return null;
  }
}

/**
 * Whether a row meets its target: `≥ 0.85×` / `≤ 2×` judge the ratio; `≥ 1000/s`, `< 1 %`, `≤ 50 ms` judge the
 * figure. Null when there is no target or it is not one of those shapes.
 */
export function meets(row: Pick<BenchRow, 'figure' | 'ratio' | 'target'>): boolean | null {
  const m = /^\s*(≥|>=|>|≤|<=|<)\s*([\d.,]+)\s*(×|x\b)?/.exec(row.target ?? '');
  if (!m) {
    return null;
  }
  const bound = Number(m[2].replace(/,/g, ''));
  const value = m[3] ? row.ratio : row.figure;
  if (value === null || !Number.isFinite(bound)) {
    return null;
  }
  switch (m[1]) {
    case '≥':
    case '>=':
      return value >= bound;
    case '>':
      return value > bound;
    case '≤':
    case '<=':
      return value <= bound;
    default:
      return value < bound;
  }
}

const median = (values: number[]): number | null => {
  if (values.length === 0) {
    return null;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** One row per bench and path: medians over the rounds (the last round's names and target). */
export function combine(rows: BenchRow[]): Array<BenchRow & { rounds: number }> {
  const byKey = new Map<string, BenchRow[]>();
  for (const row of rows) {
    const key = `${row.bench}\0${row.path}`;
    byKey.set(key, [...(byKey.get(key) ?? []), row]);
  }
  const nums = (xs: Array<number | null>): number[] => xs.filter((x): x is number => x !== null);
  return [...byKey.values()].map((group) => {
    const last = group[group.length - 1];
    return {
      ...last,
      figure: median(group.map((r) => r.figure)) as number,
      baselineFigure: median(nums(group.map((r) => r.baselineFigure))),
      ratio: median(nums(group.map((r) => r.ratio))),
      rssMb: median(nums(group.map((r) => r.rssMb))),
      rounds: group.length,
    };
  });
}

function format(value: number | null, unit = ''): string {
  if (value === null) {
    return '—';
  }
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${text} ${unit}` : text;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderTable(rows: Array<BenchRow & { rounds: number }>, judge: boolean, kept: string[] = []): string {
  const lines: string[] = [];
  for (const row of rows) {
    const met = judge ? meets(row) : null;
    lines.push(
      `| ${[
        row.bench,
        cell(row.path),
        format(row.figure, row.unit),
        row.baseline ? `${cell(row.baseline)}: ${format(row.baselineFigure, row.unit)}` : '—',
        row.ratio === null ? '—' : `${row.ratio.toFixed(2)}×`,
        row.target ? cell(row.target) : '—',
        met === null ? '—' : met ? 'yes' : '**no**',
        row.rssMb === null ? '—' : `${Math.round(row.rssMb)} MB`,
      ].join(' | ')} |`,
    );
  }
  // Rows kept from the table replaced go in among the new ones, by bench (a stable sort keeps each bench's order).
  const benchOf = (line: string): string => line.split('|')[1].trim();
  const merged = [...lines, ...kept].sort((a, b) => benchOf(a).localeCompare(benchOf(b)));
  return [
    '| bench | path | figure | baseline (same run) | ratio | target | met | RSS |',
    '| --- | --- | ---: | --- | ---: | --- | --- | ---: |',
    ...merged,
  ].join('\n');
}

const KEPT_NOTE = 'Rows kept from earlier runs (these benchmarks did not run this time), as measured then:';

/**
 * What a run of some of the benchmarks (`--only`) keeps of the table it replaces: the rows of the benchmarks that did
 * not run, as they were written, and for each of those benchmarks when and on what machine it was measured (the
 * replaced table's note for it, or else its own "Measured …" and "Machine: …" lines).
 */
export function keptRows(page: string, ran: ReadonlySet<string>): { rows: string[]; notes: string[] } {
  const start = page.indexOf(TABLE_START);
  const end = page.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    return { rows: [], notes: [] };
  }
  const lines = page.slice(start + TABLE_START.length, end).split('\n');
  const benchOf = (line: string): string => line.split('|')[1]?.trim() ?? '';
  const rows = lines.filter(
    (line) => line.startsWith('|') && !/^\|[\s-]*\|/.test(line) && benchOf(line) !== 'bench' && !ran.has(benchOf(line)),
  );
  const then = lines.filter((line) => line.startsWith('Measured ') || line.startsWith('Machine: ')).join(' ');
  // One note per earlier run: `- \`a\`, \`b\`: Measured …`. A bench keeps the note it had; the others share the
  // replaced table's own lines.
  const benchesOf = (note: string): string[] =>
    [...(/^- (`[^`]+`(?:, `[^`]+`)*): /.exec(note)?.[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  const earlier = lines.filter((line) => benchesOf(line).length > 0);
  const byNote = new Map<string, string[]>();
  for (const bench of new Set(rows.map(benchOf))) {
    const note = earlier.find((line) => benchesOf(line).includes(bench));
    const text = note ? note.slice(note.indexOf(': ') + 2) : then;
    byNote.set(text, [...(byNote.get(text) ?? []), bench]);
  }
  const notes = [...byNote].map(([text, benches]) => `- ${benches.map((b) => `\`${b}\``).join(', ')}: ${text}`);
  return { rows, notes };
}

async function postgresVersion(): Promise<string> {
  const client = new Client({
    connectionString: benchServerUrl(),
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return `PostgreSQL ${rows[0].server_version.split(' ')[0]}`;
  } catch {
    return 'PostgreSQL not reachable';
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function describeMachine(): Promise<string> {
  const cpus = os.cpus();
  return [
    `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores`,
    `${(os.totalmem() / 1024 ** 3).toFixed(1)} GB RAM`,
    `Node.js ${process.version}`,
    await postgresVersion(),
    `load average at start ${loadAverage()}`,
  ].join(' · ');
}

/** The npm script for a benchmark, when package.json has one (it may set the environment), else its compiled file. */
function command(name: string, args: string[]): { file: string; args: string[] } {
  const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts?: object })
    .scripts as Record<string, string> | undefined;
  if (scripts?.[`bench:${name}`]) {
    return { file: 'npm', args: ['run', '-s', `bench:${name}`, '--', ...args] };
  }
  return { file: process.execPath, args: [path.join(root, 'dist', 'scripts', `bench-${name}.js`), ...args] };
}

function runOne(name: string, round: number, args: string[], timeoutMs: number): Promise<Outcome> {
  const started = Date.now();
  const { file, args: argv } = command(name, args);
  return new Promise((resolve) => {
    const child = spawn(file, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const rows: BenchRow[] = [];
    let malformed = 0;
    let stderr = '';
    let pending = '';
    let timedOut = false;
    const label = `  [${name}] `;
    const onLine = (line: string): void => {
      if (line.includes(ROW_PREFIX)) {
        const row = parseRow(line);
        if (row) {
          rows.push(row);
        } else {
          malformed += 1;
        }
      } else if (line.trim()) {
        process.stdout.write(`${label}${line}\n`);
      }
    };
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(onLine);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      // The whole group: npm, the script and whatever it started (servers, the local Stripe).
      try {
        process.kill(-(child.pid as number), 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (pending) {
        onLine(pending);
      }
      const refused = /Unknown option --(json|smoke)/.test(stderr);
      let problem: string | null = null;
      if (timedOut) {
        problem = `stopped after ${Math.round(timeoutMs / 1000)} s`;
      } else if (refused) {
        problem = 'does not take --json/--smoke yet';
      } else if (code !== 0) {
        problem = `exited with code ${code}: ${lastLine(stderr)}`;
      } else if (rows.length === 0) {
        problem = malformed > 0 ? `${malformed} malformed BENCH_ROW lines` : 'printed no BENCH_ROW line';
      } else if (malformed > 0) {
        problem = `${malformed} malformed BENCH_ROW lines`;
      }
      resolve({
        name,
        round,
        code,
        seconds: (Date.now() - started) / 1000,
        rows,
        malformed,
        problem,
        nonConforming: refused || (code === 0 && rows.length === 0) || (code === 0 && malformed > 0),
      });
    });
  });
}

const lastLine = (text: string): string =>
  text
    .trim()
    .split('\n')
    .filter((line) => line.trim())
    .slice(-1)[0]
    ?.trim()
    .slice(0, 200) ?? '';

/** The page as `npm run format` leaves it (the table's columns padded), so `format:check` passes on what was written. */
export async function formatPage(page: string, filepath: string = DOC): Promise<string> {
  const prettier = await import('prettier');
  return prettier.format(page, { ...(await prettier.resolveConfig(filepath)), filepath });
}

/** Puts `table` between the markers of the page (appended with its markers when they are missing). */
export function withTable(page: string, table: string): string {
  const block = `${TABLE_START}\n\n${table}\n\n${TABLE_END}`;
  const start = page.indexOf(TABLE_START);
  const end = page.indexOf(TABLE_END);
  if (start >= 0 && end > start) {
    return page.slice(0, start) + block + page.slice(end + TABLE_END.length);
  }
  return `${page.trimEnd()}\n\n${block}\n`;
}

async function main(): Promise<void> {
  const ABOUT =
    'Runs every scripts/bench-*.ts with --json and prints their rows as one table, written into docs/benchmarks.md.';
  const { flags, number } = benchCommandLine('npm run bench', ABOUT, {
    smoke: { type: 'boolean', description: 'a short run of each benchmark (CI): no targets judged, nothing written' },
    rounds: { type: 'string', value: 'N', description: 'rounds of every benchmark; figures are medians (default 3)' },
    only: { type: 'string', value: 'a,b', description: 'these benchmarks only (names without bench-)' },
    'no-write': { type: 'boolean', description: 'print the table without writing docs/benchmarks.md' },
    timeout: { type: 'string', value: 'S', description: 'seconds one script may run (default 60 smoke, 3600)' },
    'month-events': {
      type: 'string',
      value: 'N',
      description:
        'events of bench-month, one customer per 1,000 (default 1,000,000: minutes a round; 10,000,000, the ' +
        "issue's month, takes about an hour a round: use --rounds 1 --timeout 7200)",
    },
  });
  const smoke = flags.smoke === true;
  const rounds = Math.max(1, number('rounds', smoke ? 1 : 3));
  const timeoutMs = number('timeout', smoke ? 60 : 3600) * 1000;
  const only = typeof flags.only === 'string' ? new Set(flags.only.split(',').map((s) => s.trim())) : null;
  const names = discover(path.join(root, 'scripts')).filter((name) => !only || only.has(name));
  const args = smoke ? ['--json', '--smoke'] : ['--json'];
  const monthEvents = number('month-events', 1_000_000);
  const argsOf = (name: string): string[] =>
    name === 'month' && !smoke
      ? [...args, '--events', String(monthEvents), '--customers', String(Math.max(1, Math.round(monthEvents / 1000)))]
      : args;

  const machine = await describeMachine();
  const started = Date.now();
  process.stdout.write(`npm run bench${smoke ? ' (smoke)' : ''}: ${names.join(', ')}; ${rounds} round(s)\n`);
  process.stdout.write(`machine: ${machine}\n`);
  const outcomes: Outcome[] = [];
  for (let round = 0; round < rounds; round += 1) {
    // Alternate: each round starts one script further on, so none always runs first (or after the heaviest).
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      process.stdout.write(`== round ${round + 1}/${rounds}: bench-${name}\n`);
      const outcome = await runOne(name, round, argsOf(name), timeoutMs);
      outcomes.push(outcome);
      process.stdout.write(
        `== bench-${name}: ${outcome.rows.length} row(s) in ${outcome.seconds.toFixed(1)} s` +
          `${outcome.problem ? ` (${outcome.problem})` : ''}\n`,
      );
    }
  }
  const combined = combine(outcomes.flatMap((o) => o.rows));
  const problems = outcomes.filter((o) => o.problem);
  const ended = `load average at the end ${loadAverage()}; ${Math.round((Date.now() - started) / 1000)} s in all`;
  const notes = problems.map((o) => `- bench-${o.name}${rounds > 1 ? ` (round ${o.round + 1})` : ''}: ${o.problem}`);
  const write = !smoke && flags['no-write'] !== true;
  const page = write && existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n';
  // A run of some benchmarks keeps the other benchmarks' rows, saying when they were measured.
  const kept = only ? keptRows(page, new Set(names)) : { rows: [], notes: [] };
  const table = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench${
      process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''
    }\`${smoke ? ' (smoke: short runs, targets not judged)' : ''}, medians of ${rounds} round(s).`,
    '',
    `Machine: ${machine}; ${ended}.`,
    '',
    renderTable(combined, !smoke, kept.rows),
    ...(notes.length ? ['', 'Not measured (or not fully):', '', ...notes] : []),
    ...(kept.notes.length ? ['', KEPT_NOTE, '', ...kept.notes] : []),
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  if (write) {
    writeFileSync(DOC, await formatPage(withTable(page, table)));
    process.stdout.write(`\nwritten to ${path.relative(root, DOC)}\n`);
  }
  if (problems.some((o) => !o.nonConforming)) {
    process.exitCode = 1;
  }
}

if (require.main === module) {
  runBench(main);
}
