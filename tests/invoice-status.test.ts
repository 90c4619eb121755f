import { InvoiceStatus } from '../src/entities/enums';
import { TRANSITIONS, canTransition, isTerminal } from '../src/services/invoice-status';

const S = InvoiceStatus;

/** The transition table of docs/architecture.md (invariant 2), row by row. */
const DESIGN: Record<InvoiceStatus, InvoiceStatus[]> = {
  [S.DRAFT]: [S.OPEN, S.VOID],
  [S.OPEN]: [S.PROCESSING, S.REQUIRES_ACTION, S.PAYMENT_FAILED, S.PAID, S.VOID, S.UNCOLLECTIBLE],
  [S.PROCESSING]: [S.PAID, S.PAYMENT_FAILED, S.REQUIRES_ACTION],
  [S.REQUIRES_ACTION]: [S.PROCESSING, S.PAID, S.PAYMENT_FAILED, S.VOID],
  [S.PAYMENT_FAILED]: [S.PROCESSING, S.REQUIRES_ACTION, S.PAID, S.VOID, S.UNCOLLECTIBLE],
  [S.UNCOLLECTIBLE]: [S.PAID, S.VOID],
  [S.PAID]: [],
  [S.VOID]: [],
};

describe('invoice status transitions', () => {
  const all = Object.values(S);
  it.each(all.flatMap((from) => all.map((to) => [from, to] as const)))(
    '%s → %s follows the design table',
    (from, to) => {
      expect(canTransition(from, to)).toBe(DESIGN[from].includes(to));
    },
  );

  it('has exactly PAID and VOID as terminal states', () => {
    expect(all.filter(isTerminal).sort()).toEqual([S.PAID, S.VOID]);
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...all].sort());
  });

  it('never moves back to DRAFT', () => {
    expect(all.some((from) => canTransition(from, S.DRAFT))).toBe(false);
  });
});
