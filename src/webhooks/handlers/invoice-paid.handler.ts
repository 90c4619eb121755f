import { InvoiceStatus } from '../../entities/enums';
import { invoiceHandler } from './invoice-handler';

/** `invoice.paid`: settled in Stripe (by any means) → PAID, with the amount Stripe collected. */
export const invoicePaidHandler = invoiceHandler({ kind: 'status', to: InvoiceStatus.PAID });
