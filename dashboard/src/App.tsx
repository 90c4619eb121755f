import { useEffect, useState } from 'react';
import { closeLiveConnection } from './api';
import { StatusFeedProvider } from './live';
import { hrefOf, navigate, onLinkClick, useRoute } from './router';
import { loadSession, saveSession } from './session';
import type { Session } from './session';
import { InvoiceDetail } from './views/InvoiceDetail';
import { InvoiceList } from './views/InvoiceList';
import { SignIn } from './views/SignIn';

export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | undefined>(loadSession);

  // Signed out, every page is the sign-in page; signed in, the sign-in page leads to the invoices.
  useEffect(() => {
    if (!session && route.page !== 'sign-in') {
      navigate({ page: 'sign-in' }, { replace: true });
    } else if (session && route.page === 'sign-in') {
      navigate({ page: 'invoices' }, { replace: true });
    }
  }, [session, route.page]);

  // Move focus to the new page's heading, so keyboard and screen reader users land on what changed.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route]);

  function signIn(next: Session) {
    saveSession(next);
    setSession(next);
  }

  function signOut() {
    closeLiveConnection();
    saveSession(undefined);
    setSession(undefined);
  }

  const home = { page: 'invoices' } as const;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={hrefOf(home)} onClick={onLinkClick(home)}>
          AgentHub Billing
        </a>
        <nav aria-label="Main">
          {session && (
            <a href={hrefOf(home)} onClick={onLinkClick(home)}>
              Invoices
            </a>
          )}
          <a href="/graphql">GraphQL explorer</a>
        </nav>
        {session && (
          <div className="who">
            <span>
              Signed in as <strong>{session.sub}</strong> ({session.role})
            </span>
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">
        {!session || route.page === 'sign-in' ? (
          <SignIn onSignedIn={signIn} />
        ) : (
          <StatusFeedProvider token={session.token}>
            {route.page === 'invoice' ? (
              <InvoiceDetail key={route.id} session={session} id={route.id} />
            ) : (
              <InvoiceList session={session} status={route.status} period={route.period} />
            )}
          </StatusFeedProvider>
        )}
      </main>
    </>
  );
}
