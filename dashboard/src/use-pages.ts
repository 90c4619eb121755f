import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './api';
import { messageOf } from './use-query';

/** One page of a connection as a list shows it: its rows, the cursor after them (null at the end), the total. */
export interface Page<Row> {
  rows: Row[];
  next: string | null;
  total: number;
}

/** A GraphQL connection (`edges`, `pageInfo`, `totalCount`) as a page. */
export function pageOf<Row>(connection: {
  edges: { node: Row }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
  totalCount: number;
}): Page<Row> {
  return {
    rows: connection.edges.map((edge) => edge.node),
    next: connection.pageInfo.hasNextPage ? (connection.pageInfo.endCursor ?? null) : null,
    total: connection.totalCount,
  };
}

export interface PagedList<Row> {
  /** Undefined until the first page arrives (and again while the filters change). */
  rows?: Row[];
  total: number;
  /** The first page's failure. */
  error?: string;
  code?: string;
  loading: boolean;
  /** Changes rows in place (a live status, a replayed event) without asking the server. */
  update: (change: (rows: Row[]) => Row[]) => void;
  /** Asks for the first page again, keeping the rows shown until it arrives. */
  reload: () => Promise<void>;
  more: LoadMoreState;
}

export interface LoadMoreState {
  /** The cursor of the next page, null when there is none. */
  next: string | null;
  loading: boolean;
  error?: string;
  load: () => Promise<void>;
}

/**
 * A list read page by page: the first page whenever `key` (the filters, the token) changes or on `reload`, the next
 * on `more.load()`, appended. An answer to filters that have since changed is dropped.
 */
export function usePagedList<Row>(
  fetchPage: (after: string | null) => Promise<Page<Row>>,
  key: string,
): PagedList<Row> {
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;
  const generation = useRef(0);
  const [rows, setRows] = useState<Row[]>();
  const [total, setTotal] = useState(0);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<{ message: string; code?: string }>();
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string>();

  const reload = useCallback(async () => {
    const asked = generation.current;
    setLoading(true);
    try {
      const page = await fetchRef.current(null);
      if (asked === generation.current) {
        setRows(page.rows);
        setTotal(page.total);
        setNext(page.next);
        setError(undefined);
        setMoreError(undefined);
      }
    } catch (failure) {
      if (asked === generation.current) {
        setError({ message: messageOf(failure), code: failure instanceof ApiError ? failure.code : undefined });
      }
    } finally {
      if (asked === generation.current) {
        setLoading(false);
      }
    }
  }, []);

  useEffect(() => {
    generation.current += 1;
    setRows(undefined);
    setError(undefined);
    setNext(null);
    void reload();
  }, [key, reload]);

  async function loadMore() {
    if (!next || loadingMore) {
      return;
    }
    const asked = generation.current;
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const page = await fetchRef.current(next);
      if (asked === generation.current) {
        setRows((current) => [...(current ?? []), ...page.rows]);
        setTotal(page.total);
        setNext(page.next);
      }
    } catch (failure) {
      if (asked === generation.current) {
        setMoreError(messageOf(failure));
      }
    } finally {
      setLoadingMore(false);
    }
  }

  const update = useCallback((change: (rows: Row[]) => Row[]) => setRows((current) => current && change(current)), []);

  return {
    rows,
    total,
    error: error?.message,
    code: error?.code,
    loading,
    update,
    reload,
    more: { next, loading: loadingMore, error: moreError, load: loadMore },
  };
}
