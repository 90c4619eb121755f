import type { LoadMoreState } from '../use-pages';

/** Below a list: why the next page did not come, and the button that asks for it while there is one. */
export function LoadMore({ more }: { more: LoadMoreState }) {
  return (
    <>
      {more.error && (
        <p className="error" role="alert">
          Could not load more: {more.error}
        </p>
      )}
      {more.next && (
        <button type="button" className="secondary" onClick={() => void more.load()} disabled={more.loading}>
          {more.loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </>
  );
}
