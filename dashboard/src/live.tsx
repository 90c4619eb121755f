import { createContext, useContext, useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { subscribe } from './api';
import { PaymentStatusChangedDocument } from './generated/graphql';
import type { PaymentStatusChangedSubscription } from './generated/graphql';

export type StatusEvent = PaymentStatusChangedSubscription['paymentStatusChanged'];
export type LiveState = 'live' | 'offline';

interface Listener {
  onEvent: (event: StatusEvent) => void;
  onReconnect: () => void;
}

interface Feed {
  state: LiveState;
  listeners: Set<Listener>;
}

const FeedContext = createContext<Feed | undefined>(undefined);

/**
 * One subscription per signed-in tab, open for the whole session: every status change of the caller's invoices (an
 * admin's: all invoices) over graphql-ws. Pages listen to it rather than subscribing themselves, so moving between
 * pages never leaves a moment in which a change could pass unheard.
 */
export function StatusFeedProvider({ token, children }: { token: string; children: ReactNode }) {
  const [listeners] = useState(() => new Set<Listener>());
  const [state, setState] = useState<LiveState>('live');
  useEffect(
    () =>
      subscribe(PaymentStatusChangedDocument, { invoiceId: null }, token, {
        next: (data) => {
          setState('live');
          listeners.forEach((listener) => listener.onEvent(data.paymentStatusChanged));
        },
        error: () => setState('offline'),
        onReconnect: () => {
          setState('live');
          listeners.forEach((listener) => listener.onReconnect());
        },
      }),
    [token, listeners],
  );
  return <FeedContext.Provider value={{ state, listeners }}>{children}</FeedContext.Provider>;
}

/** Calls `onEvent` for each status change while the page is shown; `onReconnect` after the link dropped. */
export function useStatusEvents(onEvent: (event: StatusEvent) => void, onReconnect: () => void): LiveState {
  const feed = useContext(FeedContext);
  const latest = useRef<Listener>({ onEvent, onReconnect });
  latest.current = { onEvent, onReconnect };
  useEffect(() => {
    const listener: Listener = {
      onEvent: (event) => latest.current.onEvent(event),
      onReconnect: () => latest.current.onReconnect(),
    };
    feed?.listeners.add(listener);
    return () => {
      feed?.listeners.delete(listener);
    };
  }, [feed]);
  return feed?.state ?? 'offline';
}
