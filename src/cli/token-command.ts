import type { AppConfig } from '../config/config';
import { Role } from '../entities/enums';
import { lifetimeSeconds, maxLifetimeSeconds, mintToken, resolveJwtSecret } from '../services/customers/auth.service';
import { UsageError, str } from './args';
import type { CommandResult, Flags } from './args';

/**
 * `npm run token` and `npm run billing -- token`: a token signed with the server's secret. In a module of its own, which
 * loads neither the database nor Stripe, so the command answers in well under a second.
 */
export async function tokenCommand(config: AppConfig, flags: Flags): Promise<CommandResult> {
  const sub = str(flags, 'sub');
  const role = str(flags, 'role') ?? Role.USER;
  if (!sub) {
    throw new UsageError('--sub is required');
  }
  if (!(Object.values(Role) as string[]).includes(role)) {
    throw new UsageError(`--role must be user, admin or service (got "${role}")`);
  }
  if (config.auth.jwksUrl) {
    throw new UsageError('JWT_JWKS_URL is set: tokens come from your identity provider, not from this command');
  }
  const expiresIn = str(flags, 'expires') ?? '12h';
  // A positive duration such as 30m, 12h or 7d: jose reads "-5s" as already expired and refuses anything else late.
  if (!/^\d+\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|week|weeks)$/i.test(expiresIn) || /^0+\D/.test(expiresIn)) {
    throw new UsageError(`--expires must be a positive duration such as 30m, 12h or 7d (got "${expiresIn}")`);
  }
  // The server refuses a token that lives longer than its role allows (JWT_MAX_LIFETIME_*_SECONDS).
  const maxLifetime = maxLifetimeSeconds(config.auth, role as Role);
  if (lifetimeSeconds(expiresIn) > maxLifetime) {
    throw new UsageError(`--expires must be at most ${maxLifetime} s for a ${role} token (got "${expiresIn}")`);
  }
  const token = await mintToken(resolveJwtSecret(config) as string, {
    sub,
    role: role as Role,
    expiresIn,
    // A token the server accepts: it checks these claims whenever they are configured.
    issuer: config.auth.issuer,
    audience: config.auth.audience,
  });
  return { code: 0, result: { ok: true, token, sub, role, expiresIn }, text: token };
}
