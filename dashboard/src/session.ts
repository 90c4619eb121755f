/** The signed-in caller: the token as pasted (or minted by the development "sign in as"), and its claims. */
export interface Session {
  token: string;
  sub: string;
  role: string;
  /** Seconds since the epoch, when the token says. */
  expiresAt?: number;
}

const KEY = 'agenthub-billing.token';

/** Reads `sub`, `role` and `exp` from a JWT without verifying it: the server verifies every request. */
export function sessionFromToken(token: string): Session | undefined {
  const payload = token.split('.')[1];
  if (!payload) {
    return undefined;
  }
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { sub?: unknown; role?: unknown; exp?: unknown };
    if (typeof claims.sub !== 'string') {
      return undefined;
    }
    return {
      token,
      sub: claims.sub,
      role: typeof claims.role === 'string' ? claims.role : 'user',
      expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
    };
  } catch {
    return undefined;
  }
}

/** Kept per tab (sessionStorage): closing the tab signs out. */
export function loadSession(): Session | undefined {
  const token = sessionStorage.getItem(KEY);
  const session = token ? sessionFromToken(token) : undefined;
  if (session?.expiresAt !== undefined && session.expiresAt * 1000 <= Date.now()) {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
  return session;
}

export function saveSession(session: Session | undefined): void {
  if (session) {
    sessionStorage.setItem(KEY, session.token);
  } else {
    sessionStorage.removeItem(KEY);
  }
}

/** The key the explorer reads to prefill its Authorization header. */
export const TOKEN_STORAGE_KEY = KEY;
