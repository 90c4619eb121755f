import {
  customerCreateKey,
  invoiceCreateKey,
  invoiceFinalizeKey,
  invoiceLineKey,
  invoicePayKey,
  invoiceSendKey,
  invoiceVoidKey,
} from '../../src/stripe';

describe('idempotency keys', () => {
  it('name the row and the operation', () => {
    expect(customerCreateKey('c1')).toBe('customer:c1:create');
    expect(invoiceCreateKey('i1')).toBe('invoice:i1:create');
    expect(invoiceLineKey('i1', 'l7')).toBe('invoice:i1:line:l7');
    expect(invoiceFinalizeKey('i1')).toBe('invoice:i1:finalize');
    expect(invoiceSendKey('i1')).toBe('invoice:i1:send');
    expect(invoicePayKey('i1', 3)).toBe('invoice:i1:pay:3');
    expect(invoiceVoidKey('i1')).toBe('invoice:i1:void');
  });

  it('are deterministic and distinct per operation', () => {
    const id = '6f1c2a9e-0d5b-4c1e-9b7a-3f2d1e0c9b8a';
    expect(invoicePayKey(id, 1)).toBe(invoicePayKey(id, 1));
    const keys = [
      invoiceCreateKey(id),
      invoiceLineKey(id, 'a'),
      invoiceLineKey(id, 'b'),
      invoiceFinalizeKey(id),
      invoiceSendKey(id),
      invoicePayKey(id, 1),
      invoicePayKey(id, 2),
      invoiceVoidKey(id),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('refuse empty ids, bad attempt numbers and keys Stripe would reject (> 255 chars)', () => {
    expect(() => invoiceCreateKey('')).toThrow();
    expect(() => invoicePayKey('i1', 0)).toThrow();
    expect(() => invoicePayKey('i1', 1.5)).toThrow();
    expect(() => invoiceLineKey('i'.repeat(200), 'l'.repeat(60))).toThrow(/255/);
  });
});
