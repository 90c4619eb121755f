import { InvoiceStatus } from '../../entities/enums';
import { invoiceHandler } from './invoice-handler';

/** `invoice.payment_failed`: a charge was declined → PAYMENT_FAILED (never after PAID: the transition table refuses it). */
export const invoicePaymentFailedHandler = invoiceHandler({ kind: 'status', to: InvoiceStatus.PAYMENT_FAILED });
