import type Stripe from 'stripe';
import { minimumChargeMinor, isSupportedCurrency } from '../src/config/currencies';
import type { Emulator, EventRequest } from './context';
import { newId } from './util';

/**
 * The customer's invoice balance as Stripe keeps it: a ledger of customer balance transactions, each moving
 * `customer.balance` (positive: the customer owes; negative: a credit), read at `/v1/customers/:id/balance_transactions`
 * (https://docs.stripe.com/billing/customer/balance). Made by credit notes (`credit_note`), by an invoice too small to
 * charge (`invoice_too_small`), and by finalizing an invoice, which takes the balance in (`applied_to_invoice`).
 */

export interface BalanceEntry {
  type: Stripe.CustomerBalanceTransaction.Type;
  amount: number;
  currency: string;
  invoice?: string | null;
  creditNote?: string | null;
  /** A ready id (a credit note names its transaction before it is recorded). */
  id?: string;
}

/** Records one transaction, moves the balance, and sends `customer.updated` with its previous `balance`. */
export function recordBalance(
  emu: Emulator,
  customer: Stripe.Customer,
  entry: BalanceEntry,
  request: EventRequest,
): Stripe.CustomerBalanceTransaction {
  const previous = customer.balance;
  customer.balance += entry.amount;
  const txn: Stripe.CustomerBalanceTransaction = {
    id: entry.id ?? newId('cbtxn'),
    object: 'customer_balance_transaction',
    amount: entry.amount,
    checkout_session: null,
    created: emu.now(),
    credit_note: entry.creditNote ?? null,
    currency: entry.currency,
    customer: customer.id,
    customer_account: null,
    description: null,
    ending_balance: customer.balance,
    invoice: entry.invoice ?? null,
    livemode: false,
    metadata: {},
    type: entry.type,
  };
  emu.state.balanceTransactions.set(txn.id, txn);
  if (customer.balance !== previous) {
    emu.emit('customer.updated', customer, request, { balance: previous });
  }
  emu.changed();
  return txn;
}

/**
 * At finalization: the customer's balance goes into the invoice (`starting_balance`), a debit raising and a credit
 * lowering `amount_due`; what a credit leaves over stays on the customer (`ending_balance`). Then, as Stripe does,
 * an amount due above zero but below the currency's minimum charge is not charged: it goes back to the balance
 * (`invoice_too_small`), to be added to the next invoice, and the invoice's `amount_due` is 0 (it is then paid).
 */
export function applyBalanceAtFinalization(
  emu: Emulator,
  inv: Stripe.Invoice,
  customer: Stripe.Customer | undefined,
  request: EventRequest,
): void {
  const sameCurrency = customer && (customer.currency === null || customer.currency === inv.currency);
  const starting = customer && sameCurrency ? customer.balance : 0;
  const owed = inv.total + starting;
  inv.starting_balance = starting;
  inv.amount_due = Math.max(0, owed);
  inv.ending_balance = owed < 0 ? owed : 0;
  if (customer && starting !== 0) {
    recordBalance(
      emu,
      customer,
      { type: 'applied_to_invoice', amount: inv.ending_balance - starting, currency: inv.currency, invoice: inv.id },
      request,
    );
  }
  const minimum = isSupportedCurrency(inv.currency) ? minimumChargeMinor(inv.currency) : null;
  if (customer && minimum !== null && inv.amount_due > 0 && BigInt(inv.amount_due) < minimum) {
    const carried = inv.amount_due;
    recordBalance(
      emu,
      customer,
      { type: 'invoice_too_small', amount: carried, currency: inv.currency, invoice: inv.id },
      request,
    );
    inv.ending_balance += carried;
    inv.amount_due = 0;
  }
  inv.amount_remaining = Math.max(0, inv.amount_due - inv.amount_paid);
}
