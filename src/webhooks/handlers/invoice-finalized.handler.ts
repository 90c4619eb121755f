import { invoiceHandler } from './invoice-handler';

/** `invoice.finalized`: DRAFT → OPEN, with the hosted payment page, PDF and due date. */
export const invoiceFinalizedHandler = invoiceHandler({ kind: 'open', sent: false });
