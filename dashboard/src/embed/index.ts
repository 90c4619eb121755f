/**
 * What the dashboard offers other apps: `InvoicePayment`, the amount, Pay button and live status of one invoice
 * (docs/dashboard.md#embedding-invoicepayment). It speaks the billing server's public GraphQL API on the page's own
 * origin (`/graphql`, graphql-ws on the same path).
 */
export { InvoicePayment } from './InvoicePayment';
export type { InvoicePaymentInvoice, InvoicePaymentProps } from './InvoicePayment';
