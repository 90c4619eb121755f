import { useCallback, useEffect, useState } from 'react';
import { ApiError, request } from './api';
import type { TypedDocumentString } from './generated/graphql';

export interface QueryState<R> {
  data?: R;
  error?: string;
  /** The error's code (`FORBIDDEN`, `NOT_FOUND`, `NETWORK`…), when the server gave one. */
  code?: string;
  loading: boolean;
  reload: () => Promise<void>;
}

/** A failure as one sentence for an alert. */
export function messageOf(failure: unknown): string {
  if (failure instanceof ApiError && failure.code === 'FORBIDDEN') {
    return 'This needs an admin token.';
  }
  return failure instanceof Error ? failure.message : String(failure);
}

/** Runs one query whenever its variables change (compared as JSON), and on `reload`. */
export function useQuery<R, V>(document: TypedDocumentString<R, V>, variables: V, token: string): QueryState<R> {
  const key = JSON.stringify(variables);
  const [state, setState] = useState<Omit<QueryState<R>, 'reload'>>({ loading: true });
  const load = useCallback(async () => {
    setState((current) => ({ ...current, loading: true }));
    try {
      const data = await request(document, JSON.parse(key) as V, token);
      setState({ data, loading: false });
    } catch (failure) {
      setState({
        loading: false,
        error: messageOf(failure),
        code: failure instanceof ApiError ? failure.code : undefined,
      });
    }
  }, [document, key, token]);
  useEffect(() => {
    setState({ loading: true });
    void load();
  }, [load]);
  return { ...state, reload: load };
}

/** The current month in UTC, `YYYY-MM`. */
export function currentPeriod(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

/** The month before `period` (`YYYY-MM`). */
export function previousPeriod(period: string): string {
  const [year, month] = period.split('-').map(Number);
  return new Date(Date.UTC(year, month - 2, 1)).toISOString().slice(0, 7);
}
