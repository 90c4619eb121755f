/** Metadata keys we put on Stripe objects to find them again from our ids. */
export const METADATA = {
  customerId: 'agenthub_customer_id',
  userId: 'agenthub_user_id',
  invoiceId: 'agenthub_invoice_id',
  invoiceNumber: 'agenthub_invoice_number',
  period: 'agenthub_period',
  lineId: 'agenthub_line_id',
  creditNoteId: 'agenthub_credit_note_id',
  creditNoteNumber: 'agenthub_credit_note_number',
} as const;
