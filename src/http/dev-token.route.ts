import express from 'express';
import type { Request, Response } from 'express';
import type { AppConfig } from '../config/config';
import { Role } from '../entities/enums';
import { mintToken, resolveJwtSecret } from '../services/customers/auth.service';
import { failure, sendResult } from './http-errors';

/** Where the dashboard's "sign in as" asks for a token; it exists only where `devTokensAvailable` says so. */
export const DEV_TOKEN_PATH = '/dev/token';

/** The roles a developer may sign in as from the dashboard (the platform's `service` role stays with the CLI). */
const DEV_ROLES = [Role.USER, Role.ADMIN] as const;
const DEV_SUB = /^[A-Za-z0-9_.@-]{1,64}$/;

/**
 * Dev tokens are minted only with NODE_ENV=development and the development secret kept under DATA_DIR (no
 * JWT_SECRET, no JWT_JWKS_URL): the same secret `npm run token` signs with when nothing is configured. A shared
 * JWT_SECRET may be trusted by other services, so an HTTP route that hands out admin tokens must never sign with it.
 */
export function devTokensAvailable(config: {
  nodeEnv: AppConfig['nodeEnv'];
  auth: Pick<AppConfig['auth'], 'jwtSecret' | 'jwksUrl'>;
}): boolean {
  return config.nodeEnv === 'development' && !config.auth.jwtSecret && !config.auth.jwksUrl;
}

/**
 * `GET /dev/token` lists the roles (so the dashboard knows to offer "sign in as"); `POST /dev/token` with
 * `{ "sub": "alice", "role": "user" }` answers `{ token, sub, role, expiresIn }`. Undefined outside development: the
 * path then falls through to the JSON 404 like any unknown one.
 */
export function devTokenRouter(config: AppConfig): express.Router | undefined {
  if (!devTokensAvailable(config)) {
    return undefined;
  }
  const router = express.Router();
  router.get(DEV_TOKEN_PATH, (_req: Request, res: Response) => {
    res.json({ roles: DEV_ROLES });
  });
  router.post(DEV_TOKEN_PATH, express.json({ limit: '4kb' }), async (req: Request, res: Response) => {
    const { sub, role } = (req.body ?? {}) as { sub?: unknown; role?: unknown };
    if (typeof sub !== 'string' || !DEV_SUB.test(sub)) {
      sendResult(res, failure(400, 'invalid_request', 'sub must be 1 to 64 letters, digits, _ . @ or -'));
      return;
    }
    if (!(DEV_ROLES as readonly unknown[]).includes(role)) {
      sendResult(res, failure(400, 'invalid_request', `role must be one of ${DEV_ROLES.join(', ')}`));
      return;
    }
    const expiresIn = '12h';
    const token = await mintToken(resolveJwtSecret(config) as string, {
      sub,
      role: role as Role,
      expiresIn,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
    });
    res.setHeader('cache-control', 'no-store');
    res.json({ token, sub, role, expiresIn });
  });
  return router;
}
