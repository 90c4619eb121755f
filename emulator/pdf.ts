import type Stripe from 'stripe';
import type { CurrencyDisplay } from '../src/config/currencies';
import { formatMoney, formatQuantity, formatUnitAmount } from './util';

function pdfText(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').replace(/([\\()])/g, '\\$1');
}

/**
 * A line's quantity and unit price as Stripe's hosted page and PDF write them: the decimal quantity grouped
 * ("1,190"), the unit price in major units with any finer digits kept ("$0.02", "$0.005"). An item made from an
 * amount alone has quantity 1 and that amount as its unit price.
 */
export function lineFigures(
  line: Stripe.InvoiceLineItem,
  display: CurrencyDisplay = 'symbol',
): { quantity: string; unitPrice: string } {
  const quantity = String(line.quantity_decimal ?? line.quantity ?? 1);
  const unit = line.pricing?.unit_amount_decimal;
  return {
    quantity: formatQuantity(quantity),
    unitPrice:
      unit === null || unit === undefined
        ? formatMoney(line.amount, line.currency, display)
        : formatUnitAmount(String(unit), line.currency, display),
  };
}

/** A one-page PDF listing the invoice: each line with its quantity, unit price and amount, then the totals. */
export function pdfFor(inv: Stripe.Invoice): Buffer {
  return pdfDocument([
    `${inv.account_name ?? ''} - Invoice ${inv.number ?? inv.id}`,
    `Status: ${inv.status}`,
    ...inv.lines.data.map((l) => {
      const { quantity, unitPrice } = lineFigures(l, 'code');
      return `${l.description ?? ''}  ${quantity} x ${unitPrice}  ${formatMoney(l.amount, l.currency, 'code')}`;
    }),
    `Total: ${formatMoney(inv.total, inv.currency, 'code')}`,
    `Amount due: ${formatMoney(inv.amount_remaining, inv.currency, 'code')}`,
  ]);
}

/**
 * A credit note's PDF (`credit_note.pdf`): the invoice it credits, each line with its quantity, unit price and amount
 * (a line of the invoice credits at the invoice line's unit price), then the total and where it went: refunded to the
 * card, credited to the customer's balance, settled outside Stripe, or taken off the amount due.
 */
export function creditNotePdf(cn: Stripe.CreditNote, inv: Stripe.Invoice): Buffer {
  const money = (amount: number): string => formatMoney(amount, cn.currency, 'code');
  const refunded = cn.refunds.reduce((sum, r) => sum + r.amount_refunded, 0);
  const credited = cn.type === 'post_payment' ? cn.amount - refunded - (cn.out_of_band_amount ?? 0) : 0;
  return pdfDocument([
    `${inv.account_name ?? ''} - Credit note ${cn.number}`,
    `Invoice ${inv.number ?? inv.id}  Status: ${cn.status}${cn.reason ? `  Reason: ${cn.reason}` : ''}`,
    ...cn.lines.data.map((l) => {
      const line = inv.lines.data.find((x) => x.id === l.invoice_line_item);
      const unitPrice =
        l.unit_amount !== null ? money(l.unit_amount) : line ? lineFigures(line, 'code').unitPrice : money(l.amount);
      return `${l.description ?? ''}  ${formatQuantity(String(l.quantity ?? 1))} x ${unitPrice}  ${money(l.amount)}`;
    }),
    `Total credited: ${money(cn.total)}`,
    ...(cn.type === 'pre_payment'
      ? [`Taken off the amount due: ${money(cn.pre_payment_amount)}`]
      : [
          ...(refunded > 0 ? [`Refunded to the card: ${money(refunded)}`] : []),
          ...(credited > 0 ? [`Credited to the customer balance: ${money(credited)}`] : []),
          ...(cn.out_of_band_amount ? [`Settled outside Stripe: ${money(cn.out_of_band_amount)}`] : []),
        ]),
    ...(cn.memo ? [`Memo: ${cn.memo}`] : []),
  ]);
}

function pdfDocument(lines: string[]): Buffer {
  const content = `BT /F1 12 Tf 50 780 Td 16 TL ${lines.map((l) => `(${pdfText(l)}) '`).join(' ')} ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  out += offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
