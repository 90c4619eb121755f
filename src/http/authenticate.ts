import type { TokenVerifier } from '../services/customers/auth.service';
import type { Caller } from '../services/customers/caller';
import { UnauthenticatedError } from '../services/shared/errors';

/** The token of an `Authorization: Bearer <token>` value, if it is one. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') {
    return undefined;
  }
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/** The caller behind an `Authorization: Bearer <JWT>` value (HTTP header or graphql-ws connection_init). */
export async function authenticate(verify: TokenVerifier, header: unknown): Promise<Caller> {
  const token = bearerToken(header);
  if (!token) {
    throw new UnauthenticatedError(
      header
        ? 'Authorization header must be "Bearer <token>"'
        : 'Authentication required: send Authorization: Bearer <token>',
    );
  }
  return verify(token);
}
