/**
 * The benchmarks' output contract (docs/benchmarks.md): every `scripts/bench-*.ts` takes `--smoke` (a run of a few
 * seconds, for CI, no thresholds) and `--json` (besides its text, one `BENCH_ROW {…}` line per measured row on
 * stdout), which `npm run bench` (scripts/bench.ts) collects into one table.
 */
import { readFileSync } from 'node:fs';
import type { OptionTable } from '../../src/cli/args';

/** One measured row, as printed after `BENCH_ROW `. */
export interface BenchRow {
  /** The script's name without `bench-`. */
  bench: string;
  /** What is measured. */
  path: string;
  figure: number;
  /** e.g. `events/s`. */
  unit: string;
  /** What the figure is compared with in the same run, or null. */
  baseline: string | null;
  baselineFigure: number | null;
  /** figure / baselineFigure (or the figure over a fixed reference the target names), or null. */
  ratio: number | null;
  /** e.g. `≥ 0.85×`, `≥ 1000/s`, `< 1 %`, or null. */
  target: string | null;
  /** Resident memory of the process measured (the server's, when it has its own), or null. */
  rssMb: number | null;
}

export const ROW_PREFIX = 'BENCH_ROW ';

/** The two options every benchmark takes. */
export const BENCH_OPTIONS: OptionTable = {
  smoke: { type: 'boolean', description: 'a short run of a few seconds (CI), no thresholds' },
  json: { type: 'boolean', description: `also print one "${ROW_PREFIX}{…}" line per measured row` },
};

/** Prints a row when `json` is on; always returns it. */
export function emitRow(json: boolean, row: BenchRow): BenchRow {
  if (json) {
    process.stdout.write(`${ROW_PREFIX}${JSON.stringify(row)}\n`);
  }
  return row;
}

/** A row's ratio: figure over baseline, rounded to three decimals; null when there is no baseline figure. */
export function ratioOf(figure: number, baselineFigure: number | null): number | null {
  return baselineFigure && Number.isFinite(figure) ? Math.round((figure / baselineFigure) * 1000) / 1000 : null;
}

/** Resident set size of a process in MB (Linux `/proc`; this process's own elsewhere), or null if unknown. */
export function rssMb(pid: number = process.pid): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb ? Math.round(Number(kb) / 102.4) / 10 : null;
  } catch {
    return pid === process.pid ? Math.round(process.memoryUsage().rss / 104857.6) / 10 : null;
  }
}

/**
 * CPU time (user + system) a process has used so far, in seconds (Linux `/proc`; this process's own elsewhere). On a
 * shared machine, requests per CPU-second of a server says what one core of it serves, whatever else runs.
 */
export function cpuSeconds(pid: number = process.pid): number | null {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    if (pid !== process.pid) {
      return null;
    }
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }
}
