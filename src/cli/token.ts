import { ConfigError, loadConfig } from '../config/config';
import { COMMON_OPTIONS, UsageError, optionHelp, parseCommandLine } from './args';
import { COMMAND_OPTIONS } from './billing-options';
import { tokenCommand } from './token-command';

const OPTIONS = { ...COMMAND_OPTIONS.token, json: COMMON_OPTIONS.json, help: COMMON_OPTIONS.help };

const USAGE = `Usage: npm run token -- --sub <user id> [--role user|admin|service] [--expires 12h] [--json]

Mints an HS256 token signed with JWT_SECRET, or with the development secret kept under .data/
(the same secret \`npm start\` uses when no JWT setting is given), with JWT_ISSUER and JWT_AUDIENCE when they are
set. Not available with JWT_JWKS_URL. The same command as \`npm run billing -- token\`.

${optionHelp(OPTIONS)}
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const { flags } = parseCommandLine(argv, OPTIONS);
    const { result, text } = await tokenCommand(loadConfig(), flags);
    const json = flags.json === true;
    process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${text}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
