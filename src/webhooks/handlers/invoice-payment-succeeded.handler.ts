import { InvoiceStatus } from '../../entities/enums';
import { invoiceHandler } from './invoice-handler';

/** `invoice.payment_succeeded`: a payment settled the invoice → PAID (usually paired with `invoice.paid`; either is enough). */
export const invoicePaymentSucceededHandler = invoiceHandler({ kind: 'status', to: InvoiceStatus.PAID });
