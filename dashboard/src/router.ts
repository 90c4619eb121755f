import { useEffect, useState } from 'react';

/** The dashboard's pages; the server answers every such path with the app (its SPA fallback). */
export type Route =
  { page: 'sign-in' } | { page: 'invoices'; status?: string; period?: string } | { page: 'invoice'; id: string };

export function parseRoute(location: Location): Route {
  const invoice = /^\/invoices\/([^/]+)$/.exec(location.pathname);
  if (invoice) {
    return { page: 'invoice', id: decodeURIComponent(invoice[1]) };
  }
  if (location.pathname === '/sign-in') {
    return { page: 'sign-in' };
  }
  const query = new URLSearchParams(location.search);
  return { page: 'invoices', status: query.get('status') ?? undefined, period: query.get('period') ?? undefined };
}

export function hrefOf(route: Route): string {
  switch (route.page) {
    case 'sign-in':
      return '/sign-in';
    case 'invoice':
      return `/invoices/${encodeURIComponent(route.id)}`;
    case 'invoices': {
      const query = new URLSearchParams();
      if (route.status) {
        query.set('status', route.status);
      }
      if (route.period) {
        query.set('period', route.period);
      }
      const text = query.toString();
      return text ? `/invoices?${text}` : '/invoices';
    }
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
