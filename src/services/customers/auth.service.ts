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

/**
 * A subject names one customer, so it must be text that survives storage unchanged: no control characters (NUL
 * reached the database as an SQL error), no line or paragraph separators, no unpaired UTF-16 surrogates (UTF-8 turns
 * each into U+FFFD, so `victim\ud800`, `victim\udfff` and `victim\ufffd` were one customer) and no noncharacters.
 */
const UNPRINTABLE_SUBJECT = /[\p{Cc}\p{Zl}\p{Zp}\p{Cs}\uFFFE\uFFFF]/u;
const MAX_SUBJECT_LENGTH = 200;

export function isUsableSubject(sub: unknown): sub is string {
  return (
    typeof sub === 'string' &&
    sub.length > 0 &&
    sub.length <= MAX_SUBJECT_LENGTH &&
    sub.trim().length > 0 &&
    !UNPRINTABLE_SUBJECT.test(sub)
  );
}

type TokenPolicy = Pick<
  AppConfig['auth'],
  'maxLifetimeUserSeconds' | 'maxLifetimeAdminSeconds' | 'maxLifetimeServiceSeconds'
>;

/** The longest a token of `role` may live, in seconds (`JWT_MAX_LIFETIME_*_SECONDS`). */
export function maxLifetimeSeconds(auth: TokenPolicy, role: Role): number {
  switch (role) {
    case Role.ADMIN:
      return auth.maxLifetimeAdminSeconds;
    case Role.SERVICE:
      return auth.maxLifetimeServiceSeconds;
    default:
      return auth.maxLifetimeUserSeconds;
  }
}

/**
 * Verifies `Authorization: Bearer` tokens by HS256 secret or by the issuer's JWKS; `clock` decides time. A token
 * must expire (`exp`), live no longer than its role allows (`JWT_MAX_LIFETIME_*_SECONDS`), not claim to be issued or
 * valid from further ahead than `JWT_CLOCK_SKEW_SECONDS`, and name a usable subject.
 */
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
  // During a rotation of JWT_SECRET: tokens signed with the secret it replaced, until they expire.
  const previousKey =
    config.auth.previousJwtSecret && !config.auth.jwksUrl
      ? new TextEncoder().encode(config.auth.previousJwtSecret)
      : undefined;
  const skew = config.auth.clockSkewSeconds;
  const options = {
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    algorithms: config.auth.jwksUrl ? ['RS256', 'ES256', 'PS256', 'EdDSA'] : ['HS256'],
    requiredClaims: ['exp'],
    // jose applies one tolerance to `nbf` and `exp`; `exp` is checked again below without it.
    clockTolerance: skew,
  };

  return async (token: string): Promise<Caller> => {
    let payload: JWTPayload;
    const nowMs = clock.now();
    try {
      // exp and nbf are checked against our clock, not jose's own reading of the system time.
      const verifyOptions = { ...options, currentDate: new Date(nowMs) };
      // The two overloads of jwtVerify differ only in the key type.
      payload =
        key instanceof Uint8Array
          ? (
              await jwtVerify(token, key, verifyOptions).catch((error: unknown) => {
                if (previousKey && error instanceof joseErrors.JWSSignatureVerificationFailed) {
                  return jwtVerify(token, previousKey, verifyOptions);
                }
                throw error;
              })
            ).payload
          : (await jwtVerify(token, key, verifyOptions)).payload;
    } catch (error) {
      throw new UnauthenticatedError(describeJoseError(error));
    }
    const now = nowMs / 1000;
    const exp = payload.exp as number;
    // The same instant the WebSocket and SSE streams end at: no grace after `exp`.
    if (exp <= now) {
      throw new UnauthenticatedError('Token has expired');
    }
    if (payload.iat !== undefined && payload.iat > now + skew) {
      throw new UnauthenticatedError('Token claim "iat" is in the future');
    }
    if (!isUsableSubject(payload.sub)) {
      throw new UnauthenticatedError('Token has no usable subject (sub)');
    }
    const role = payload.role ?? Role.USER;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw new UnauthenticatedError('Token role must be user, admin or service');
    }
    const maxLifetime = maxLifetimeSeconds(config.auth, role as Role);
    if (exp - (payload.iat ?? now) > maxLifetime) {
      throw new UnauthenticatedError(`Token lives longer than a ${role} token may (${maxLifetime} s)`);
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
    return error.reason === 'missing'
      ? `Token has no "${error.claim}" claim`
      : `Token claim "${error.claim}" is invalid`;
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
  /** When it is issued (`iat`, and the base of `expiresIn`), epoch milliseconds; default now by the system clock. */
  issuedAt?: number;
  issuer?: string;
  audience?: string;
}

/** Mints an HS256 token (development and tests; production tokens come from the identity provider). */
export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  const issuedAt = Math.floor((options.issuedAt ?? Date.now()) / 1000);
  let jwt = new SignJWT({ role: options.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + lifetimeSeconds(options.expiresIn ?? '12h'));
  if (options.issuer) {
    jwt = jwt.setIssuer(options.issuer);
  }
  if (options.audience) {
    jwt = jwt.setAudience(options.audience);
  }
  return jwt.sign(new TextEncoder().encode(secret));
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `30m`, `12h`, `7d`, `-1m` (already expired, for tests) → seconds; units s, m, h, d, w and their long forms. */
export function lifetimeSeconds(duration: string): number {
  const match = /^(-?)(\d+)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w|week|weeks)$/i.exec(duration.trim());
  if (!match) {
    throw new Error(`Not a duration such as 30m, 12h or 7d: "${duration.slice(0, 20)}"`);
  }
  const seconds = Number(match[2]) * (UNIT_SECONDS[match[3].charAt(0).toLowerCase()] as number);
  return match[1] ? -seconds : seconds;
}
