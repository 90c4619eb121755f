import { decodeJwt } from 'jose';
import { authenticate, bearerToken } from '../http/authenticate';
import type { TokenVerifier } from '../services/customers/auth.service';
import type { Caller } from '../services/customers/caller';

/** Who opened a stream (a WebSocket, an SSE request), with what token, and until when the token holds. */
export interface StreamIdentity {
  caller: Caller;
  /** Checked again before every operation on a WebSocket. */
  token: string;
  /** The token's `exp` in epoch milliseconds; undefined for a token without one. */
  expiresAt?: number;
}

/** Verifies an `Authorization: Bearer` value as HTTP does, and reads when the token expires (its verified `exp`). */
export async function authenticateStream(verify: TokenVerifier, header: unknown): Promise<StreamIdentity> {
  const caller = await authenticate(verify, header);
  const token = bearerToken(header) as string;
  const { exp } = decodeJwt(token);
  return { caller, token, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined };
}
