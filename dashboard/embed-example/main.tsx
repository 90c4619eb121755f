/**
 * A platform's own page embedding `InvoicePayment`, as docs/dashboard.md#embedding-invoicepayment shows: nothing of
 * the dashboard but the component and its styles. tests/browser/embed.test.ts builds it (vite.config.mts here) and
 * serves it from the billing server (its DASHBOARD_DIR), as a platform serving its app beside the server would. The invoice and
 * the owner's token come in the fragment (`#invoice=…&token=…`), which never reaches a server.
 */
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { InvoicePayment } from '../src/embed';
import type { InvoiceStatus } from '../src/generated/graphql';
import '../src/styles.css';

const params = new URLSearchParams(location.hash.slice(1));

function PayMyInvoice({ invoiceId, token }: { invoiceId: string; token: string }) {
  const [heard, setHeard] = useState<InvoiceStatus[]>([]);
  return (
    <>
      <h1>Your AgentHub invoice</h1>
      <InvoicePayment
        invoiceId={invoiceId}
        token={token}
        onStatusChange={(status) => setHeard((before) => [...before, status])}
      />
      <p data-testid="host-heard">Statuses heard by this page: {heard.join(', ') || 'none yet'}</p>
    </>
  );
}

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <PayMyInvoice invoiceId={params.get('invoice') ?? ''} token={params.get('token') ?? ''} />
  </StrictMode>,
);
