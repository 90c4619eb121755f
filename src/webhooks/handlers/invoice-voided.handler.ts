import { InvoiceStatus } from '../../entities/enums';
import { invoiceHandler } from './invoice-handler';

/** `invoice.voided`: voided in Stripe (by us or in the dashboard) → VOID. */
export const invoiceVoidedHandler = invoiceHandler({ kind: 'status', to: InvoiceStatus.VOID });
