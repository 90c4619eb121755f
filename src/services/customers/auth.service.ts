import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import type { Clock } from '../../config/clock';
import { systemClock } from '../../config/clock';
import type { AppConfig } from '../../config/config';
import { Role } from '../../entities/enums';
import { ensurePrivateDir, writePrivateFile } from '../../lib/private-files';
import type { Caller } from './caller';
import { UnauthenticatedError } from '../shared/errors';

export type TokenVerifier = (token: string) => Promise<Caller>;

const ROLES = new Set<string>(Object.values(Role));
const DEV_SECRET_FILE = 'dev-jwt-secret';

/**
 * The HS256 secret in force: `JWT_SECRET`, or (outside production, with no JWT setting) a development secret
 * generated once and kept under the data folder so tokens minted by `npm run token` stay valid across restarts.
 */
export function resolveJwtSecret(config: Pick<AppConfig, 'auth' | 'nodeEnv' | 'dataDir'>): string | undefined {
  if (config.auth.jwtSecret || config.auth.jwksUrl) {
    return config.auth.jwtSecret;
  }
  if (config.nodeEnv === 'production') {
    throw new Error('JWT_SECRET or JWT_JWKS_URL is required in production');
  }
  const file = path.join(config.dataDir, DEV_SECRET_FILE);
  if (!existsSync(file)) {
    ensurePrivateDir(config.dataDir);
    writePrivateFile(file, randomBytes(32).toString('base64url'), { flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}

export function devSecretPath(config: Pick<AppConfig, 'dataDir'>): string {
  return path.join(config.dataDir, DEV_SECRET_FILE);
}

/** Verifies `Authorization: Bearer` tokens by HS256 secret or by the issuer's JWKS; `clock` decides expiry. */
export function createTokenVerifier(
  config: Pick<AppConfig, 'auth' | 'nodeEnv' | 'dataDir'>,
  clock: Clock = systemClock,
): TokenVerifier {
  const secret = resolveJwtSecret(config);
  let key: Uint8Array | JWTVerifyGetKey;
  if (config.auth.jwksUrl) {
    key = createRemoteJWKSet(new URL(config.auth.jwksUrl));
  } else {
    key = new TextEncoder().encode(secret);
  }
  const options = {
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    algorithms: config.auth.jwksUrl ? ['RS256', 'ES256', 'PS256', 'EdDSA'] : ['HS256'],
  };

  return async (token: string): Promise<Caller> => {
    let payload: JWTPayload;
    try {
      // exp and nbf are checked against our clock, not jose's own reading of the system time.
      const verifyOptions = { ...options, currentDate: new Date(clock.now()) };
      // The two overloads of jwtVerify differ only in the key type.
      payload =
        key instanceof Uint8Array
          ? (await jwtVerify(token, key, verifyOptions)).payload
          : (await jwtVerify(token, key, verifyOptions)).payload;
    } catch (error) {
      throw new UnauthenticatedError(describeJoseError(error));
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200) {
      throw new UnauthenticatedError('Token has no usable subject (sub)');
    }
    const role = payload.role ?? Role.USER;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw new UnauthenticatedError('Token role must be user, admin or service');
    }
    return { userId: payload.sub, role: role as Role };
  };
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) {
    return 'Token has expired';
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return 'Token signature is invalid';
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `Token claim "${error.claim}" is invalid`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return 'Token algorithm is not accepted';
  }
  return 'Token is malformed or cannot be verified';
}

export interface MintOptions {
  sub: string;
  role: Role;
  /** e.g. `1h`, `30d`; default 12 hours. */
  expiresIn?: string;
  issuer?: string;
  audience?: string;
}

/** Mints an HS256 token (development and tests; production tokens come from the identity provider). */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  let jwt = new SignJWT({ role: options.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h');
  if (options.issuer) {
    jwt = jwt.setIssuer(options.issuer);
  }
  if (options.audience) {
    jwt = jwt.setAudience(options.audience);
  }
  return jwt.sign(new TextEncoder().encode(secret));
}
