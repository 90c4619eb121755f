import { useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import { request } from '../../api';
import { CustomersDocument } from '../../generated/graphql';
import type { CustomersQuery } from '../../generated/graphql';
import { formatDate } from '../../format';
import { hrefOf, navigate, onLinkClick } from '../../router';
import type { Session } from '../../session';
import { messageOf, useQuery } from '../../use-query';

type Customer = CustomersQuery['customers']['edges'][number]['node'];
const PAGE = 50;

/** Admin: every billing customer by user id, searchable, with a link to each one's usage. */
export function Customers({ session, search }: { session: Session; search?: string }) {
  const searchId = useId();
  const [draft, setDraft] = useState(search ?? '');
  const first = useQuery(CustomersDocument, { search: search ?? null, first: PAGE }, session.token);
  const [more, setMore] = useState<{ rows: Customer[]; next: string | null }>();
  const [moreError, setMoreError] = useState<string>();
  const [loadingMore, setLoadingMore] = useState(false);

  useEffect(() => setMore(undefined), [first.data]);

  const page = first.data?.customers;
  const rows = [...(page?.edges.map((edge) => edge.node) ?? []), ...(more?.rows ?? [])];
  const next = more ? more.next : page?.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;

  async function loadMore() {
    if (!next) {
      return;
    }
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const data = await request(
        CustomersDocument,
        { search: search ?? null, first: PAGE, after: next },
        session.token,
      );
      setMore({
        rows: [...(more?.rows ?? []), ...data.customers.edges.map((edge) => edge.node)],
        next: data.customers.pageInfo.hasNextPage ? data.customers.pageInfo.endCursor : null,
      });
    } catch (failure) {
      setMoreError(messageOf(failure));
    } finally {
      setLoadingMore(false);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    navigate({ page: 'customers', search: draft.trim() || undefined }, { replace: true });
  }

  return (
    <section aria-labelledby="customers-title">
      <div className="title-row">
        <h1 tabIndex={-1} id="customers-title">
          Customers
        </h1>
      </div>
      <form className="filters" role="search" aria-label="Search customers" onSubmit={submit}>
        <div className="field">
          <label htmlFor={searchId}>User id, e-mail or name contains</label>
          <input id={searchId} type="search" value={draft} onChange={(event) => setDraft(event.target.value)} />
        </div>
        <div className="field field-button">
          <button type="submit" className="secondary">
            Search
          </button>
        </div>
      </form>
      {first.error && (
        <p className="error" role="alert">
          Could not load customers: {first.error}
        </p>
      )}
      {first.loading && !page && (
        <p className="loading" role="status">
          Loading customers…
        </p>
      )}
      {page && (
        <>
          <p className="totals" data-testid="customer-count">
            {page.totalCount === 1 ? '1 customer' : `${page.totalCount} customers`}
            {search ? ` matching “${search}”` : ''}
          </p>
          {rows.length === 0 ? (
            <p className="empty">No customers match.</p>
          ) : (
            <div className="table-wrap">
              <table className="cards">
                <caption className="visually-hidden">Customers by user id</caption>
                <thead>
                  <tr>
                    <th scope="col">User id</th>
                    <th scope="col">Name</th>
                    <th scope="col">E-mail</th>
                    <th scope="col">Customer since</th>
                    <th scope="col">Usage</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((customer) => {
                    const usage = { page: 'usage', user: customer.userId } as const;
                    return (
                      <tr key={customer.id} data-user-id={customer.userId}>
                        <th scope="row" data-label="User id">
                          {customer.userId}
                        </th>
                        <td data-label="Name">{customer.name ?? '—'}</td>
                        <td data-label="E-mail">{customer.email ?? '—'}</td>
                        <td data-label="Customer since">{formatDate(customer.createdAt)}</td>
                        <td data-label="Usage">
                          <a href={hrefOf(usage)} onClick={onLinkClick(usage)}>
                            Usage<span className="visually-hidden"> of {customer.userId}</span>
                          </a>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {moreError && (
            <p className="error" role="alert">
              Could not load more: {moreError}
            </p>
          )}
          {next && (
            <button type="button" className="secondary" onClick={loadMore} disabled={loadingMore}>
              {loadingMore ? 'Loading…' : 'Load more'}
            </button>
          )}
        </>
      )}
    </section>
  );
}
