import { Suspense, lazy, useEffect, useState } from 'react';
import { closeLiveConnection } from './api';
import { StatusFeedProvider } from './live';
import { ADMIN_PAGES, hrefOf, navigate, onLinkClick, useRoute } from './router';
import type { Route } from './router';
import { loadSession, saveSession } from './session';
import type { Session } from './session';
import { InvoiceDetail } from './views/InvoiceDetail';
import { InvoiceList } from './views/InvoiceList';
import { SignIn } from './views/SignIn';
import './views.css';

// Loaded when first shown, each in its own chunk: the usage view with Chart.js (only it draws charts), and the admin
// views, which most callers never open. The invoices, the first page after sign-in, come with the entry.
const Usage = lazy(() => import('./views/Usage').then((m) => ({ default: m.Usage })));
const BillingRuns = lazy(() => import('./views/admin/BillingRuns').then((m) => ({ default: m.BillingRuns })));
const Dunning = lazy(() => import('./views/admin/Dunning').then((m) => ({ default: m.Dunning })));
const Customers = lazy(() => import('./views/admin/Customers').then((m) => ({ default: m.Customers })));
const Reconcile = lazy(() => import('./views/admin/Reconcile').then((m) => ({ default: m.Reconcile })));
const WebhookEvents = lazy(() => import('./views/admin/WebhookEvents').then((m) => ({ default: m.WebhookEvents })));

/** The navigation: everyone's pages, then the admin pages for admin tokens only. */
const NAV: ReadonlyArray<{ route: Route; label: string; matches: ReadonlyArray<Route['page']> }> = [
  { route: { page: 'invoices' }, label: 'Invoices', matches: ['invoices', 'invoice'] },
  { route: { page: 'usage' }, label: 'Usage', matches: ['usage'] },
  { route: { page: 'customers' }, label: 'Customers', matches: ['customers'] },
  { route: { page: 'billing-runs' }, label: 'Billing runs', matches: ['billing-runs'] },
  { route: { page: 'webhooks' }, label: 'Webhooks', matches: ['webhooks'] },
  { route: { page: 'reconcile' }, label: 'Reconcile', matches: ['reconcile'] },
  { route: { page: 'dunning' }, label: 'Dunning', matches: ['dunning'] },
];

/** The page for a signed-in caller; an admin page asked for by anyone else says so (the API would refuse it too). */
function Page({ route, session }: { route: Route; session: Session }) {
  if (ADMIN_PAGES.includes(route.page) && session.role !== 'admin') {
    return (
      <section aria-labelledby="forbidden-title">
        <h1 tabIndex={-1} id="forbidden-title">
          Admins only
        </h1>
        <p className="error" role="alert">
          This page needs an admin token. You are signed in as {session.sub} ({session.role}).
        </p>
      </section>
    );
  }
  switch (route.page) {
    case 'invoice':
      return <InvoiceDetail key={route.id} session={session} id={route.id} />;
    case 'usage':
      return <Usage session={session} period={route.period} user={route.user} />;
    case 'customers':
      return <Customers session={session} search={route.search} />;
    case 'billing-runs':
      return <BillingRuns session={session} />;
    case 'webhooks':
      return <WebhookEvents session={session} type={route.type} status={route.status} />;
    case 'reconcile':
      return <Reconcile session={session} period={route.period} />;
    case 'dunning':
      return <Dunning session={session} period={route.period} />;
    case 'invoices':
      return <InvoiceList session={session} status={route.status} period={route.period} />;
    default:
      return null;
  }
}

/**
 * Moves focus to the new page's heading, so keyboard and screen reader users land on what changed. Rendered beside
 * the page inside its Suspense boundary: its effect runs once a lazy page has arrived, not on the loading fallback.
 */
function FocusHeading({ route }: { route: Route }) {
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route]);
  return null;
}

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
          {session &&
            NAV.filter((item) => session.role === 'admin' || !ADMIN_PAGES.includes(item.route.page)).map((item) => (
              <a
                key={item.label}
                href={hrefOf(item.route)}
                onClick={onLinkClick(item.route)}
                aria-current={item.matches.includes(route.page) ? 'page' : undefined}
              >
                {item.label}
              </a>
            ))}
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
          <>
            <SignIn onSignedIn={signIn} />
            <FocusHeading route={route} />
          </>
        ) : (
          <StatusFeedProvider token={session.token}>
            <Suspense
              fallback={
                <p className="loading" role="status">
                  Loading the page…
                </p>
              }
            >
              <Page route={route} session={session} />
              <FocusHeading route={route} />
            </Suspense>
          </StatusFeedProvider>
        )}
      </main>
    </>
  );
}
