import { parseArgs } from 'node:util';

/**
 * The one command-line parser of the project's commands (the operator CLI, `npm run token`, the benchmarks): Node's
 * own `util.parseArgs`, strict, driven by a table of options that also writes each command's option help.
 */

export interface OptionSpec {
  /** `boolean` options are switches: they take no value. */
  type: 'string' | 'boolean';
  /** How the value is shown in help, e.g. `YYYY-MM` or `N`. */
  value?: string;
  description: string;
}

export type OptionTable = Record<string, OptionSpec>;

/** Parsed options: a switch is `true`, a valued option its text. */
export type Flags = Record<string, string | true>;

/** A command line the command cannot take (exit code 2 and the command's help). */
export class UsageError extends Error {}

/** Options every operator command takes. */
export const COMMON_OPTIONS: OptionTable = {
  json: { type: 'boolean', description: 'one JSON document on stdout (for scripts)' },
  verbose: { type: 'boolean', description: 'log progress to stderr' },
  help: { type: 'boolean', description: 'this help' },
};

/**
 * Reads `argv` against `options`: an unknown option, a value given to a switch or a missing value is a
 * `UsageError` (a mistyped `--dry-run` must never apply changes). Positionals are refused unless `positionals`.
 */
export function parseCommandLine(
  argv: string[],
  options: OptionTable,
  settings: { positionals?: boolean } = {},
): { flags: Flags; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(options).map(([name, spec]) => [name, { type: spec.type }])),
      strict: true,
      allowPositionals: settings.positionals ?? false,
    });
    const flags: Flags = {};
    for (const [name, value] of Object.entries(parsed.values)) {
      if (value !== undefined && value !== false) {
        flags[name] = value === true ? true : String(value);
      }
    }
    return { flags, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError(reword(error));
  }
}

/** Node's parse errors, in this project's words (they name the option, never echo anything else). */
function reword(error: unknown): string {
  // Node's own TypeError, read structurally (it may come from another realm under a test runner).
  const { code, message = String(error) } = error as { code?: string; message?: string };
  const option = /'(-{1,2}[^' <]+)/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `Unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(message) ? `${option} takes no value` : `${option} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `Unexpected argument ${/'([^']+)'/.exec(message)?.[1] ?? ''}`.trim();
    default:
      return message;
  }
}

/** The aligned option lines of a command's help, from its table. */
export function optionHelp(options: OptionTable): string {
  const rows = Object.entries(options).map(([name, spec]) => [
    `--${name}${spec.value ? ` ${spec.value}` : ''}`,
    spec.description,
  ]);
  const width = Math.min(24, Math.max(...rows.map(([flag]) => flag.length)));
  return rows
    .map(([flag, text]) =>
      flag.length > width ? `  ${flag}\n  ${' '.repeat(width)}  ${text}` : `  ${flag.padEnd(width)}  ${text}`,
    )
    .join('\n');
}

/** `--name N` as a number, for the benchmarks: the default when absent, a `UsageError` when not a number. */
export function numberFlag(flags: Flags, name: string, fallback: number): number {
  const raw = flags[name];
  if (raw === undefined) {
    return fallback;
  }
  const value = Number(raw);
  if (raw === true || !Number.isFinite(value)) {
    throw new UsageError(`--${name} must be a number (got "${String(raw)}")`);
  }
  return value;
}

/**
 * `--name N,M` as positive whole numbers, for the benchmarks: the default when absent, a `UsageError` when any entry
 * is not one (a typo must not silently shrink the run).
 */
export function numbersFlag(flags: Flags, name: string, fallback: number[]): number[] {
  const raw = flags[name];
  if (raw === undefined) {
    return fallback;
  }
  // `Number('')` is 0: an empty entry (`16,,64`) is refused with the rest.
  const values = String(raw).split(',').map(Number);
  if (values.some((value) => !Number.isSafeInteger(value) || value <= 0)) {
    throw new UsageError(`--${name} must be positive whole numbers separated by commas (got "${String(raw)}")`);
  }
  return values;
}

/** What a command answers: its exit code and a JSON-able result; `text` is the human rendering. */
export interface CommandResult {
  code: number;
  result: Record<string, unknown>;
  text: string;
}

export const str = (flags: Flags, name: string): string | undefined =>
  typeof flags[name] === 'string' ? (flags[name] as string) : undefined;
export const on = (flags: Flags, name: string): boolean => flags[name] === true;
