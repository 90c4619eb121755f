import { InvoiceStatus } from '../../entities/enums';
import { invoiceHandler } from './invoice-handler';

/** `invoice.payment_action_required`: the customer must authenticate (3-D Secure) → REQUIRES_ACTION. */
export const invoicePaymentActionRequiredHandler = invoiceHandler({
  kind: 'status',
  to: InvoiceStatus.REQUIRES_ACTION,
});
