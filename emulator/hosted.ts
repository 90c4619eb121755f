import express, { type Request, type Response, type Router } from 'express';
import type Stripe from 'stripe';
import { AUTOMATIC, type Emulator } from './context';
import { StripeApiError } from './errors';
import { findInvoiceByToken, internalsOf } from './invoice-model';
import { checkChargeAmount } from './limits';
import { charge, completeThreeDSecure } from './payments';
import { createCardPaymentMethod } from './payment-methods';
import { creditNotePdf, lineFigures, pdfFor } from './pdf';
import { escapeHtml as h, formatMoney } from './util';

function date(unix: number | null): string {
  return unix === null ? '—' : new Date(unix * 1000).toISOString().slice(0, 10);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${h(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:640px;margin:2rem auto;padding:0 1rem;color:#1a1f36}
table{width:100%;border-collapse:collapse}td,th{padding:.4rem;border-bottom:1px solid #e3e8ee;text-align:left}
.amount{text-align:right}.status{display:inline-block;padding:.1rem .5rem;border-radius:4px;background:#e3e8ee}
.error{color:#c0123c}.ok{color:#0e6245}label{display:block;margin:.5rem 0}input{padding:.4rem;width:100%}
button{padding:.6rem 1.2rem;margin-top:.8rem;background:#635bff;color:#fff;border:0;border-radius:4px}</style></head>
<body>${body}</body></html>`;
}

function invoicePage(emu: Emulator, inv: Stripe.Invoice, token: string, message?: string, error?: boolean): string {
  const customer = typeof inv.customer === 'string' ? emu.state.customers.get(inv.customer) : undefined;
  const rows = inv.lines.data
    .map((l) => {
      const { quantity, unitPrice } = lineFigures(l);
      return `<tr><td>${h(l.description ?? '')}</td><td class="amount" data-testid="quantity">${h(quantity)}</td><td class="amount" data-testid="unit-price">${h(unitPrice)}</td><td class="amount">${h(formatMoney(l.amount, l.currency))}</td></tr>`;
    })
    .join('');
  const payable = inv.status === 'open' || inv.status === 'uncollectible';
  const form = payable
    ? `<h2>Pay with card</h2><form method="post" action="/i/${h(token)}/pay">
<label>Card number <input name="card_number" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" required></label>
<label>Expiry (MM/YY) <input name="exp" placeholder="12/34" required></label>
<label>CVC <input name="cvc" placeholder="123" required></label>
<label>Name on card <input name="name"></label>
<button type="submit">Pay ${h(formatMoney(inv.amount_remaining, inv.currency))}</button></form>
<p><small>Test mode: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined, 4000 0000 0000 9995 for insufficient funds, 4000 0000 0000 0069 as expired; 4000 0025 0000 3155 and 4000 0027 6000 3184 require 3-D Secure.</small></p>`
    : '';
  const note = message ? `<p class="${error ? 'error' : 'ok'}" role="status">${h(message)}</p>` : '';
  return page(
    `Invoice ${inv.number ?? inv.id}`,
    `<h1>${h(inv.account_name ?? 'AgentHub')}</h1>
<p>Invoice <strong data-testid="number">${h(inv.number ?? '')}</strong> · <span class="status" data-testid="status">${h(inv.status ?? '')}</span></p>
<p>Billed to: ${h(customer?.name ?? inv.customer_name ?? '')} ${h(customer?.email ?? inv.customer_email ?? '')}</p>
<p>Due date: ${date(inv.due_date)}</p>
<table><thead><tr><th>Description</th><th class="amount">Qty</th><th class="amount">Unit price</th><th class="amount">Amount</th></tr></thead><tbody>${rows}</tbody>
<tfoot><tr><th colspan="3">Total</th><th class="amount">${h(formatMoney(inv.total, inv.currency))}</th></tr>
<tr><th colspan="3">Amount paid</th><th class="amount">${h(formatMoney(inv.amount_paid, inv.currency))}</th></tr>
<tr><th colspan="3">Amount due</th><th class="amount" data-testid="amount-remaining">${h(formatMoney(inv.amount_remaining, inv.currency))}</th></tr></tfoot></table>
${note}${form}<p><a href="/invoice/${h(token)}/pdf">Download PDF</a></p>`,
  );
}

function challengePage(inv: Stripe.Invoice, token: string): string {
  return page(
    '3D Secure authentication',
    `<h1>3D Secure 2 Test Page</h1><p>Authenticate the payment of ${h(formatMoney(inv.amount_remaining, inv.currency))} to ${h(inv.account_name ?? '')}.</p>
<form method="post" action="/i/${h(token)}/3ds"><input type="hidden" name="result" value="approve"><button type="submit">Complete authentication</button></form>
<form method="post" action="/i/${h(token)}/3ds"><input type="hidden" name="result" value="fail"><button type="submit" style="background:#c0123c">Fail authentication</button></form>`,
  );
}

export function hostedRouter(emu: Emulator): Router {
  const r = express.Router();
  r.use(express.urlencoded({ extended: false }));

  const withInvoice =
    (fn: (req: Request, res: Response, inv: Stripe.Invoice, token: string) => void) =>
    (req: Request, res: Response): void => {
      const token = String(req.params.token);
      const inv = findInvoiceByToken(emu, token);
      if (!inv || inv.status === 'draft') {
        res.status(404).type('html').send(page('Not found', '<h1>Invoice not found</h1>'));
        return;
      }
      try {
        fn(req, res, inv, token);
      } catch (e) {
        const message = e instanceof StripeApiError ? e.body.message : 'Something went wrong.';
        res
          .status(400)
          .type('html')
          .send(invoicePage(emu, inv, token, message, true));
      }
    };

  r.get(
    '/i/:token',
    withInvoice((req, res, inv, token) => {
      const message = typeof req.query.message === 'string' ? req.query.message : undefined;
      res.type('html').send(invoicePage(emu, inv, token, message, req.query.error === '1'));
    }),
  );

  r.post(
    '/i/:token/pay',
    withInvoice((req, res, inv, token) => {
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      const number = String(body.card_number ?? '').replace(/[\s-]/g, '');
      const [mm, yy] = String(body.exp ?? '')
        .split('/')
        .map((x) => Number(x.trim()));
      if (inv.status !== 'open' && inv.status !== 'uncollectible') {
        res
          .status(400)
          .type('html')
          .send(invoicePage(emu, inv, token, `This invoice is ${inv.status}.`, true));
        return;
      }
      const pm = createCardPaymentMethod(emu, number, mm || 12, yy ? 2000 + (yy % 100) : 2034);
      if (!pm) {
        res
          .status(400)
          .type('html')
          .send(invoicePage(emu, inv, token, 'Your card number is not a valid test card number.', true));
        return;
      }
      checkChargeAmount(inv.amount_remaining, inv.currency);
      const result = charge(emu, inv, pm, AUTOMATIC);
      if (result.kind === 'requires_action') {
        return res.redirect(303, `/i/${token}/3ds`);
      }
      const message = result.kind === 'paid' ? 'Payment successful. Thank you!' : result.error.body.message;
      res.redirect(
        303,
        `/i/${token}?message=${encodeURIComponent(message)}${result.kind === 'paid' ? '' : '&error=1'}`,
      );
    }),
  );

  r.get(
    '/i/:token/3ds',
    withInvoice((_req, res, inv, token) => {
      if (!internalsOf(emu, inv.id).pendingActionPaymentMethod) {
        return res.redirect(303, `/i/${token}`);
      }
      res.type('html').send(challengePage(inv, token));
    }),
  );

  r.post(
    '/i/:token/3ds',
    withInvoice((req, res, inv, token) => {
      const approve = (req.body as Record<string, string | undefined>)?.result !== 'fail';
      const result = completeThreeDSecure(emu, inv, approve, AUTOMATIC);
      const message =
        result.kind === 'paid'
          ? 'Payment successful. Thank you!'
          : result.kind === 'failed'
            ? result.error.body.message
            : '';
      res.redirect(
        303,
        `/i/${token}?message=${encodeURIComponent(message)}${result.kind === 'paid' ? '' : '&error=1'}`,
      );
    }),
  );

  r.get(
    '/credit_note/:token/:id/pdf',
    withInvoice((req, res, inv) => {
      const cn = emu.state.creditNotes.get(String(req.params.id));
      if (!cn || cn.invoice !== inv.id) {
        res.status(404).type('html').send(page('Not found', '<h1>Credit note not found</h1>'));
        return;
      }
      res.type('application/pdf').send(creditNotePdf(cn, inv));
    }),
  );

  r.get(
    '/invoice/:token/pdf',
    withInvoice((_req, res, inv) => {
      res.type('application/pdf').send(pdfFor(inv));
    }),
  );

  return r;
}
