import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { getCustomer } from './customers';
import { paramMissing, resourceMissing } from './errors';
import { render } from './expand';
import { recordBalance } from './customer-balance';
import { requireCurrency } from './limits';
import { listParams, paginate } from './list';
import { allowOnly, applyMetadata, int, rangeFilter, str } from './params';

/** `/v1/customers/:id/balance_transactions`: the ledger behind `customer.balance` (`customer-balance.ts`). */

const CREATE_PARAMS = ['amount', 'currency', 'description', 'expand', 'metadata'] as const satisfies ReadonlyArray<
  keyof Stripe.CustomerCreateBalanceTransactionParams
>;
const LIST_PARAMS = listParams<Stripe.CustomerListBalanceTransactionsParams>('created', 'invoice');

function transactionsOf(ctx: ApiContext, customerId: string): Stripe.CustomerBalanceTransaction[] {
  return [...ctx.emu.state.balanceTransactions.newestFirstBy('customer', customerId)];
}

/** An `adjustment`: a credit (negative) or a debit (positive) applied to the customer's next invoice. */
function create(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, CREATE_PARAMS);
  const customer = getCustomer(ctx, ctx.path.id);
  const amount = int(p, 'amount');
  if (amount === undefined) {
    throw paramMissing('amount');
  }
  const currencyParam = str(p, 'currency');
  if (!currencyParam) {
    throw paramMissing('currency');
  }
  const currency = requireCurrency(currencyParam);
  const txn = recordBalance(ctx.emu, customer, { type: 'adjustment', amount, currency }, ctx.request);
  txn.description = str(p, 'description') ?? null;
  txn.metadata = applyMetadata({}, p);
  customer.currency ??= currency;
  return render(ctx.emu, txn, ctx.expand);
}

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const customer = getCustomer(ctx, ctx.path.id);
  const invoice = str(p, 'invoice');
  const created = rangeFilter(p, 'created');
  const items = transactionsOf(ctx, customer.id).filter(
    (t) => (invoice === undefined || t.invoice === invoice) && (!created || created(t.created)),
  );
  const page = paginate(items, p, `/v1/customers/${customer.id}/balance_transactions`, 'customer balance transaction');
  return { ...page, data: page.data.map((t) => render(ctx.emu, t, ctx.expand, 'data.')) };
}

function retrieve(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  const customer = getCustomer(ctx, ctx.path.id);
  const txn = ctx.emu.state.balanceTransactions.get(ctx.path.txn);
  if (!txn || txn.customer !== customer.id) {
    throw resourceMissing('customer balance transaction', ctx.path.txn);
  }
  return render(ctx.emu, txn, ctx.expand);
}

export function registerCustomerBalance(r: ApiRouter): void {
  r.post('/v1/customers/:id/balance_transactions', create);
  r.get('/v1/customers/:id/balance_transactions', list);
  r.get('/v1/customers/:id/balance_transactions/:txn', retrieve);
}
