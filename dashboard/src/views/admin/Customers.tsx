import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { request } from '../../api';
import { CustomersDocument } from '../../generated/graphql';
import { formatDate } from '../../format';
import { hrefOf, navigate, onLinkClick } from '../../router';
import type { Session } from '../../session';
import { LoadMore } from '../../components/LoadMore';
import { pageOf, usePagedList } from '../../use-pages';

const PAGE = 50;

/** Admin: every billing customer by user id, searchable, with a link to each one's usage. */
export function Customers({ session, search }: { session: Session; search?: string }) {
  const searchId = useId();
  const [draft, setDraft] = useState(search ?? '');
  const list = usePagedList(
    async (after) =>
      pageOf(
        (await request(CustomersDocument, { search: search ?? null, first: PAGE, after }, session.token)).customers,
      ),
    JSON.stringify([search, session.token]),
  );
  const rows = list.rows;

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
      {list.error && (
        <p className="error" role="alert">
          Could not load customers: {list.error}
        </p>
      )}
      {list.loading && !rows && (
        <p className="loading" role="status">
          Loading customers…
        </p>
      )}
      {rows && (
        <>
          <p className="totals" data-testid="customer-count">
            {list.total === 1 ? '1 customer' : `${list.total} customers`}
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
          <LoadMore more={list.more} />
        </>
      )}
    </section>
  );
}
