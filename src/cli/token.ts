import { ConfigError, loadConfig } from '../config/config';
import { Role } from '../entities/enums';
import { mintToken, resolveJwtSecret } from '../services/auth.service';
import { parseArgs } from './args';

const USAGE = `Usage: npm run token -- --sub <user id> [--role user|admin|service] [--expires 12h] [--json]

Mints an HS256 token signed with JWT_SECRET, or with the development secret kept under .data/
(the same secret \`npm start\` uses when no JWT setting is given). Not available with JWT_JWKS_URL.
`;

async function main(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv);
  if (flags.help || flags.h) {
    process.stdout.write(USAGE);
    return 0;
  }
  const sub = typeof flags.sub === 'string' ? flags.sub : undefined;
  const role = typeof flags.role === 'string' ? flags.role : Role.USER;
  if (!sub) {
    process.stderr.write(`--sub is required\n\n${USAGE}`);
    return 2;
  }
  if (!(Object.values(Role) as string[]).includes(role)) {
    process.stderr.write(`--role must be user, admin or service (got "${role}")\n`);
    return 2;
  }
  const config = loadConfig();
  if (config.auth.jwksUrl) {
    process.stderr.write('JWT_JWKS_URL is set: tokens come from your identity provider, not from this command.\n');
    return 2;
  }
  const secret = resolveJwtSecret(config) as string;
  const expiresIn = typeof flags.expires === 'string' ? flags.expires : '12h';
  const token = await mintToken(secret, { sub, role: role as Role, expiresIn });
  process.stdout.write(flags.json ? `${JSON.stringify({ token, sub, role, expiresIn })}\n` : `${token}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
