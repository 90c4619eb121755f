import { invoiceHandler } from './invoice-handler';

/** `invoice.sent`: Stripe e-mailed the invoice; records `sentAt` (and opens a DRAFT, as finalization precedes sending). */
export const invoiceSentHandler = invoiceHandler({ kind: 'open', sent: true });
