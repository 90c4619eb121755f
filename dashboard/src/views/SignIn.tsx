import { useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, request } from '../api';
import { InvoicesDocument } from '../generated/graphql';
import { sessionFromToken } from '../session';
import type { Session } from '../session';

interface DevTokens {
  roles: string[];
}

/** Sign in by pasting a token; in development also "sign in as" a user or an admin (the server's /dev/token). */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const tokenId = useId();
  const subId = useId();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [dev, setDev] = useState<DevTokens>();
  const [devSub, setDevSub] = useState('alice');

  useEffect(() => {
    // Present only in development; anywhere else the route answers 404 and the form is all there is.
    fetch('/dev/token', { headers: { accept: 'application/json' } })
      .then((response) => (response.ok ? (response.json() as Promise<DevTokens>) : undefined))
      .then(setDev)
      .catch(() => undefined);
  }, []);

  async function signIn(raw: string) {
    const session = sessionFromToken(raw.trim().replace(/^Bearer\s+/i, ''));
    if (!session) {
      setError('That is not a token: paste the JWT your identity provider (or `npm run token`) gave you.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      // The server is the judge: one small query proves the token is accepted.
      await request(InvoicesDocument, { first: 1 }, session.token);
      onSignedIn(session);
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.code === 'UNAUTHENTICATED'
          ? `The server refused this token: ${failure.message}`
          : failure instanceof Error
            ? failure.message
            : String(failure),
      );
    } finally {
      setBusy(false);
    }
  }

  async function signInAs(role: string) {
    setBusy(true);
    setError(undefined);
    try {
      const response = await fetch('/dev/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub: devSub.trim(), role }),
      });
      const body = (await response.json()) as { token?: string; error?: { message?: string } };
      if (!body.token) {
        throw new Error(body.error?.message ?? `The server answered ${response.status}`);
      }
      await signIn(body.token);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
      setBusy(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    void signIn(token);
  }

  return (
    <section className="panel narrow" aria-labelledby="sign-in-title">
      <h1 tabIndex={-1} id="sign-in-title">
        Sign in
      </h1>
      <form onSubmit={submit}>
        <label htmlFor={tokenId}>Access token</label>
        <textarea
          id={tokenId}
          name="token"
          rows={4}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          placeholder="eyJhbGciOi…"
          autoComplete="off"
          spellCheck={false}
          required
        />
        <p className="hint">The bearer token your platform issues; it stays in this tab only.</p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {dev && (
        <div className="dev-sign-in" role="group" aria-labelledby="dev-title">
          <h2 id="dev-title">Development: sign in as</h2>
          <label htmlFor={subId}>User id</label>
          <input id={subId} value={devSub} onChange={(event) => setDevSub(event.target.value)} autoComplete="off" />
          <div className="actions">
            {dev.roles.map((role) => (
              <button key={role} type="button" className="secondary" disabled={busy} onClick={() => signInAs(role)}>
                Sign in as {role}
              </button>
            ))}
          </div>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
