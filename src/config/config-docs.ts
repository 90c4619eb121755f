import { CONFIG_GROUPS, CONFIG_VARIABLES } from './config-schema';
import type { ConfigGroup, PlacedVariable } from './config-schema';

/**
 * What the schema (config-schema.ts) documents: the variable tables of docs/configuration.md, between
 * `<!-- config-table:start GROUP -->` and `<!-- config-table:end -->`, and `.env.example`. Written by
 * `npm run docs:config`; tests/config-docs.test.ts fails when a committed file differs from what is rendered here.
 */

export const ENV_EXAMPLE_FILE = '.env.example';
export const CONFIGURATION_PAGE = 'docs/configuration.md';

const WIDTH = 120;

/** 86400000 → 86,400,000. */
function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `a`, `b` or `c`. */
function alternatives(values: readonly string[]): string {
  const quoted = values.map((value) => `\`${value}\``);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}` : quoted.join('');
}

/** The meaning in Markdown: the accepted values, the description, the range. */
function meaning(variable: PlacedVariable): string {
  const values = variable.values ? `${alternatives(variable.values)}. ` : '';
  const range = variable.range ? `; ${grouped(variable.range[0])}–${grouped(variable.range[1])}` : '';
  return `${values}${variable.description}${range}`;
}

function defaultCell(variable: PlacedVariable): string {
  if (variable.default === undefined) {
    return variable.unset ? `— (${variable.unset})` : '—';
  }
  if (variable.default === '') {
    return '— (empty)';
  }
  const inTest = variable.defaultInTest ? ` (\`${variable.defaultInTest}\` when \`NODE_ENV=test\`)` : '';
  return `\`${variable.default}\`${inTest}`;
}

/** A Markdown table aligned as Prettier aligns it, so that `npm run format:check` accepts the page as written. */
function table(header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows].map((row) => row.map((cell) => cell.replace(/\|/g, '\\|')));
  const widths = header.map((_, column) => Math.max(3, ...cells.map((row) => [...row[column]].length)));
  const line = (row: string[]): string =>
    `| ${row.map((cell, column) => cell + ' '.repeat(widths[column] - [...cell].length)).join(' | ')} |`;
  return [line(cells[0]), `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...cells.slice(1).map(line)];
}

export function variablesOf(group: ConfigGroup): PlacedVariable[] {
  return CONFIG_VARIABLES.filter((variable) => variable.group === group);
}

/** The docs table of one group's variables. */
export function renderGroupTable(group: ConfigGroup): string {
  return table(
    ['variable', 'default', 'meaning'],
    variablesOf(group).map((variable) => [`\`${variable.name}\``, defaultCell(variable), meaning(variable)]),
  ).join('\n');
}

const BLOCK = /<!-- config-table:start (\S+) -->\n[\s\S]*?<!-- config-table:end -->/g;

/**
 * The configuration page with every group's table rendered afresh between its markers; the prose around them is
 * kept. Every group must have exactly one block, so that no variable goes undocumented.
 */
export function renderConfigurationPage(page: string): string {
  const seen: string[] = [];
  const rendered = page.replace(BLOCK, (_block, group: string) => {
    if (!(group in CONFIG_GROUPS)) {
      throw new Error(
        `${CONFIGURATION_PAGE}: no configuration group "${group}" (known: ${Object.keys(CONFIG_GROUPS).join(', ')})`,
      );
    }
    seen.push(group);
    return `<!-- config-table:start ${group} -->\n\n${renderGroupTable(group as ConfigGroup)}\n\n<!-- config-table:end -->`;
  });
  for (const group of Object.keys(CONFIG_GROUPS)) {
    const count = seen.filter((name) => name === group).length;
    if (count !== 1) {
      throw new Error(
        `${CONFIGURATION_PAGE}: the table of group "${group}" appears ${count} times; it must appear once`,
      );
    }
  }
  return rendered;
}

/** `# `-comment lines of at most WIDTH characters; a `code span` is never broken. */
function comment(text: string): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.match(/(?:`[^`]*`|[^\s`])+/g) ?? []) {
    if (line !== '#' && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

/** The first letter upper-case: a sentence of its own in `.env.example`. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const ENV_EXAMPLE_HEADER = [
  'AgentHub Billing configuration. Copy to .env (never commit it); exported variables override the file. Every',
  'variable is optional outside production: the defaults start the server on an embedded database and the local',
  'Stripe emulator. Each variable is shown commented out, with its default or an example: uncomment what you change.',
  '`npm run config:check` validates the result and prints the effective values, secrets masked.',
  'Generated from src/config/config-schema.ts by `npm run docs:config` (docs/configuration.md has the same tables).',
].join(' ');

/** `.env.example`: every variable, by group, described and commented out with its default or example. */
export function renderEnvExample(): string {
  const lines = [...comment(ENV_EXAMPLE_HEADER)];
  for (const [group, title] of Object.entries(CONFIG_GROUPS) as Array<[ConfigGroup, string]>) {
    const heading = `# --- ${title} `;
    lines.push('', heading + '-'.repeat(WIDTH - heading.length));
    for (const variable of variablesOf(group)) {
      const defaultNote = variable.defaultInTest
        ? ` Default \`${variable.default}\` (\`${variable.defaultInTest}\` when \`NODE_ENV=test\`).`
        : '';
      lines.push(
        ...comment(`${sentence(meaning(variable))}.${defaultNote}`),
        `# ${variable.name}=${variable.example ?? variable.default ?? ''}`,
        '',
      );
    }
    lines.pop();
  }
  return `${lines.join('\n')}\n`;
}
