import { useEffect, useState } from 'react';

/** The dashboard's pages; the server answers every such path with the app (its SPA fallback). */
export type Route =
  | { page: 'sign-in' }
  | { page: 'invoices'; status?: string; period?: string }
  | { page: 'invoice'; id: string }
  | { page: 'usage'; period?: string; user?: string }
  | { page: 'customers'; search?: string }
  | { page: 'billing-runs' }
  | { page: 'webhooks'; type?: string; status?: string }
  | { page: 'reconcile'; period?: string }
  | { page: 'dunning'; period?: string };

/** The admin pages: shown in the navigation to admins only (the API refuses their operations to anyone else). */
export const ADMIN_PAGES: ReadonlyArray<Route['page']> = [
  'customers',
  'billing-runs',
  'webhooks',
  'reconcile',
  'dunning',
];

/** `?a=1&b=2` of the values that are set, or ''. */
function queryOf(values: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value) {
      query.set(key, value);
    }
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

export function parseRoute(location: Location): Route {
  const invoice = /^\/invoices\/([^/]+)$/.exec(location.pathname);
  if (invoice) {
    return { page: 'invoice', id: decodeURIComponent(invoice[1]) };
  }
  if (location.pathname === '/sign-in') {
    return { page: 'sign-in' };
  }
  const query = new URLSearchParams(location.search);
  const param = (name: string): string | undefined => query.get(name) || undefined;
  switch (location.pathname) {
    case '/usage':
      return { page: 'usage', period: param('period'), user: param('user') };
    case '/admin/customers':
      return { page: 'customers', search: param('search') };
    case '/admin/billing-runs':
      return { page: 'billing-runs' };
    case '/admin/webhooks':
      return { page: 'webhooks', type: param('type'), status: param('status') };
    case '/admin/reconcile':
      return { page: 'reconcile', period: param('period') };
    case '/admin/dunning':
      return { page: 'dunning', period: param('period') };
  }
  return { page: 'invoices', status: query.get('status') ?? undefined, period: query.get('period') ?? undefined };
}

export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'sign-in':
      return '/sign-in';
    case 'invoice':
      return `/invoices/${encodeURIComponent(route.id)}`;
    case 'invoices':
      return `/invoices${queryOf({ status: route.status, period: route.period })}`;
    case 'usage':
      return `/usage${queryOf({ period: route.period, user: route.user })}`;
    case 'customers':
      return `/admin/customers${queryOf({ search: route.search })}`;
    case 'billing-runs':
      return '/admin/billing-runs';
    case 'webhooks':
      return `/admin/webhooks${queryOf({ type: route.type, status: route.status })}`;
    case 'reconcile':
      return `/admin/reconcile${queryOf({ period: route.period })}`;
    case 'dunning':
      return `/admin/dunning${queryOf({ period: route.period })}`;
  }
}

export function navigate(route: Route, options: { replace?: boolean } = {}): void {
  const href = hrefOf(route);
  if (options.replace) {
    history.replaceState(null, '', href);
  } else {
    history.pushState(null, '', href);
  }
  dispatchEvent(new PopStateEvent('popstate'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location));
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return route;
}

/** Plain links that navigate inside the app: a modified click (new tab, etc.) keeps the browser's own behaviour. */
export function onLinkClick(route: Route) {
  return (event: React.MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    navigate(route);
  };
}
