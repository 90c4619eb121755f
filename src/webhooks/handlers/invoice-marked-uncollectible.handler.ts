import { InvoiceStatus } from '../../entities/enums';
import { invoiceHandler } from './invoice-handler';

/** `invoice.marked_uncollectible`: written off in Stripe → UNCOLLECTIBLE. */
export const invoiceMarkedUncollectibleHandler = invoiceHandler({ kind: 'status', to: InvoiceStatus.UNCOLLECTIBLE });
