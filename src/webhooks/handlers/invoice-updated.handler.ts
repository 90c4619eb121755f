import { invoiceHandler } from './invoice-handler';

/** `invoice.updated`: refreshes URLs, due date and amount paid; never the status (the specific events carry it). */
export const invoiceUpdatedHandler = invoiceHandler({ kind: 'refresh' });
