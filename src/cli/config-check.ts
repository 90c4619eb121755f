import { ConfigError, loadConfig } from '../config/config';
import { describeConfig } from '../config/describe-config';

/** `npm run config:check`: validates the configuration and prints it with secrets masked. */
function main(): number {
  try {
    const rows = describeConfig(loadConfig());
    const width = Math.max(...rows.map(([name]) => name.length));
    process.stdout.write(
      `Configuration is valid.\n\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

process.exit(main());
