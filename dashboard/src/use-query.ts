import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
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

export interface PeriodQuery<R> {
  period: string;
  setPeriod: (period: string) => void;
  data?: R;
  error?: string;
  busy: boolean;
  /** The form's submit handler: checks the month, then runs the request. */
  submit: (event: FormEvent) => Promise<void>;
}

/**
 * A form that asks one thing of a month (an admin view): the month (default the previous one), checked on submit,
 * `busy` while the request runs, then its data or its error. `keepWhileBusy`: the last answer stays shown until the
 * next one arrives (else it is cleared when a new one is asked).
 */
export function usePeriodQuery<R>(
  initial: string | undefined,
  run: (period: string) => Promise<R>,
  options: { keepWhileBusy?: boolean } = {},
): PeriodQuery<R> {
  const [period, setPeriod] = useState(initial ?? previousPeriod(currentPeriod()));
  const [data, setData] = useState<R>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) {
      setError('Choose a month.');
      return;
    }
    setBusy(true);
    setError(undefined);
    if (!options.keepWhileBusy) {
      setData(undefined);
    }
    try {
      setData(await run(period));
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  return { period, setPeriod, data, error, busy, submit };
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
