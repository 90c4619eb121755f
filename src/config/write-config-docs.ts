import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIGURATION_PAGE, ENV_EXAMPLE_FILE, renderConfigurationPage, renderEnvExample } from './config-docs';

/**
 * `npm run docs:config`: writes `.env.example` and the variable tables of docs/configuration.md from the schema
 * (src/config/config-schema.ts). `-- --check` writes nothing and exits 1 when either file is out of date.
 */
function main(): number {
  const check = process.argv.includes('--check');
  const root = process.cwd();
  const files: Array<[string, (current: string) => string]> = [
    [ENV_EXAMPLE_FILE, () => renderEnvExample()],
    [CONFIGURATION_PAGE, (current) => renderConfigurationPage(current)],
  ];
  let stale = 0;
  for (const [file, render] of files) {
    const current = readFileSync(path.join(root, file), 'utf8');
    const next = render(current);
    if (next === current) {
      continue;
    }
    stale += 1;
    if (!check) {
      writeFileSync(path.join(root, file), next);
    }
    process.stdout.write(`${check ? 'out of date' : 'wrote'}: ${file}\n`);
  }
  if (stale === 0) {
    process.stdout.write(`up to date: ${files.map(([file]) => file).join(', ')}\n`);
  }
  return check && stale > 0 ? 1 : 0;
}

process.exit(main());
