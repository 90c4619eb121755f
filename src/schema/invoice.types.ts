import { ArgsType, Field, ID, Int, InterfaceType, ObjectType, createUnionType, registerEnumType } from 'type-graphql';
import { InvoiceLineKind, InvoiceStatus, PaymentLimitScope, StatusChangeSource } from '../entities/enums';
import { CreditNoteType } from './credit-note.types';
import { MoneyType } from './money.type';
import { DecimalScalar } from './scalars';
import './enums';

registerEnumType(InvoiceStatus, { name: 'InvoiceStatus' });
registerEnumType(StatusChangeSource, { name: 'StatusChangeSource' });

/**
 * The types of an invoice page are plain data, hundreds of fields a page: `simpleResolvers` lets graphql-js read
 * each property directly instead of through type-graphql's per-field middleware wrapper (no middleware, no auth
 * checker is registered for them).
 */
@ObjectType('InvoiceLine', { simpleResolvers: true })
export class InvoiceLineType {
  @Field(() => ID)
  id!: string;

  @Field(() => InvoiceLineKind)
  kind!: InvoiceLineKind;

  @Field(() => String, { nullable: true, description: 'Metric code.' })
  metric!: string | null;

  @Field()
  description!: string;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => DecimalScalar, {
    nullable: true,
    description:
      'The part of quantity charged, beyond the free allowance (quantity − billableQuantity units were free); null ' +
      'for a line that does not record it.',
  })
  billableQuantity!: string | null;

  @Field(() => DecimalScalar, { nullable: true })
  unitAmount!: string | null;

  @Field(() => MoneyType)
  amount!: MoneyType;
}

@ObjectType('InvoiceStatusChange', { simpleResolvers: true })
export class InvoiceStatusChangeType {
  @Field(() => InvoiceStatus, { nullable: true })
  from!: InvoiceStatus | null;

  @Field(() => InvoiceStatus)
  to!: InvoiceStatus;

  @Field(() => StatusChangeSource)
  source!: StatusChangeSource;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field()
  occurredAt!: Date;
}

@ObjectType('PaymentError', {
  description: 'Why the last payment attempt failed, as Stripe said it. Never card data.',
  simpleResolvers: true,
})
export class PaymentErrorType {
  @Field({ description: "Stripe's error code: card_declined, expired_card, payment_intent_authentication_failure…" })
  code!: string;

  @Field(() => String, {
    nullable: true,
    description: "The card issuer's reason for a decline (insufficient_funds, lost_card…), when it gave one.",
  })
  declineCode!: string | null;

  @Field({ description: "Stripe's message, written to be shown to the customer." })
  message!: string;

  @Field({ description: 'One sentence for a reader, e.g. "Your card was declined: insufficient funds".' })
  reason!: string;

  @Field()
  occurredAt!: Date;
}

@ObjectType('PaymentAction', {
  description: 'What the customer must do before the payment can complete (the invoice is REQUIRES_ACTION).',
  simpleResolvers: true,
})
export class PaymentActionType {
  @Field({ description: 'THREE_D_SECURE: the card issuer asks the customer to authenticate the payment.' })
  kind!: string;

  @Field()
  message!: string;

  @Field(() => String, {
    nullable: true,
    description: "Where to do it: Stripe's hosted invoice page, which shows the challenge.",
  })
  url!: string | null;
}

@ObjectType('Invoice', { description: 'An invoice for one customer and one monthly period.', simpleResolvers: true })
export class InvoiceType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'PREFIX-YYYY-MM-NNNNNN-YYYYMMDD' })
  number!: string;

  @Field()
  userId!: string;

  @Field(() => InvoiceStatus)
  status!: InvoiceStatus;

  @Field({ description: 'YYYY-MM' })
  period!: string;

  @Field(() => MoneyType, { description: 'Total due for the invoice.' })
  amount!: MoneyType;

  @Field(() => MoneyType)
  amountPaid!: MoneyType;

  @Field(() => MoneyType, {
    description: 'What is still due: amount − amountCredited − amountPaid (0 once PAID or VOID).',
  })
  amountRemaining!: MoneyType;

  @Field(() => MoneyType, { description: "Given back to the customer's card by refunds; the invoice stays PAID." })
  amountRefunded!: MoneyType;

  @Field(() => MoneyType, { description: 'Taken off what was due by credit notes before payment.' })
  amountCredited!: MoneyType;

  @Field(() => [CreditNoteType], { description: 'Refunds and credits, oldest first.' })
  creditNotes!: CreditNoteType[];

  @Field(() => Date, { nullable: true })
  dueDate!: Date | null;

  @Field(() => String, { nullable: true, description: "Stripe's hosted invoice page." })
  paymentUrl!: string | null;

  @Field(() => String, { nullable: true })
  pdfUrl!: string | null;

  @Field()
  isPaid!: boolean;

  @Field(() => [InvoiceLineType])
  lines!: InvoiceLineType[];

  @Field(() => [InvoiceStatusChangeType])
  statusHistory!: InvoiceStatusChangeType[];

  @Field(() => String, { nullable: true })
  voidReason!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  paidAt!: Date | null;

  @Field(() => PaymentErrorType, {
    nullable: true,
    description: 'Why the last payment attempt failed (a decline, a failed 3-D Secure); null once paid.',
  })
  lastPaymentError!: PaymentErrorType | null;

  @Field(() => PaymentActionType, {
    nullable: true,
    description: 'While REQUIRES_ACTION: what the customer must do (3-D Secure) and where.',
  })
  requiredAction!: PaymentActionType | null;
}

@InterfaceType({ description: 'An expected business failure, returned as data.' })
export abstract class ErrorResult {
  @Field()
  code!: string;

  @Field()
  message!: string;
}

@ObjectType({ implements: ErrorResult })
export class InvoiceStateError extends ErrorResult {
  @Field(() => InvoiceStatus)
  status!: InvoiceStatus;
}

@ObjectType({ implements: ErrorResult })
export class NoBillableUsage extends ErrorResult {
  @Field()
  period!: string;
}

@ObjectType({ implements: ErrorResult, description: 'The period has not ended yet; invoices are for closed periods.' })
export class PeriodNotEnded extends ErrorResult {
  @Field()
  period!: string;
}

@ObjectType({ implements: ErrorResult })
export class PaymentDeclined extends ErrorResult {
  @Field(() => String, { nullable: true })
  declineCode!: string | null;

  @Field(() => InvoiceType)
  invoice!: InvoiceType;
}

@ObjectType({ implements: ErrorResult, description: '3-D Secure: the customer must confirm the payment.' })
export class PaymentRequiresAction extends ErrorResult {
  @Field(() => String, { nullable: true })
  clientSecret!: string | null;

  @Field(() => String, { nullable: true })
  paymentUrl!: string | null;

  @Field(() => InvoiceType)
  invoice!: InvoiceType;
}

@ObjectType({
  implements: ErrorResult,
  description: 'Stripe could not be reached; the outcome is settled later (the invoice is PROCESSING or DRAFT).',
})
export class PaymentProviderUnavailable extends ErrorResult {
  @Field(() => InvoiceType, { nullable: true })
  invoice!: InvoiceType | null;
}

@ObjectType({
  implements: ErrorResult,
  description:
    "Stripe's invoice does not total this invoice, so it is not made payable, e-mailed or charged. Reconciliation " +
    'voids an open one and reissues the period, or reports it.',
})
export class InvoiceTotalMismatch extends ErrorResult {
  @Field(() => InvoiceType)
  invoice!: InvoiceType;

  @Field(() => MoneyType, { description: "What Stripe's invoice totals." })
  stripeTotal!: MoneyType;
}

@ObjectType({
  implements: ErrorResult,
  description:
    "Stripe refuses the invoice's amount (`stripeCode`: amount_too_large, amount_too_small): the invoice stays a " +
    'DRAFT here with its exact lines and is not payable through Stripe; nothing was charged.',
})
export class InvoiceAmountRefused extends ErrorResult {
  @Field(() => InvoiceType)
  invoice!: InvoiceType;

  @Field({ description: "Stripe's error code." })
  stripeCode!: string;
}

@ObjectType({
  implements: ErrorResult,
  description:
    'Too many failed payment attempts on this invoice or by its owner (card testing): nothing was sent to Stripe. ' +
    'Allowed again at `resetsAt`, or when an admin lifts the limit.',
})
export class PaymentAttemptsExceeded extends ErrorResult {
  @Field(() => PaymentLimitScope)
  scope!: PaymentLimitScope;

  @Field(() => Int)
  failedAttempts!: number;

  @Field(() => Int)
  limit!: number;

  @Field(() => Int)
  windowSeconds!: number;

  @Field()
  resetsAt!: Date;
}

export const CreateInvoiceResult = createUnionType({
  name: 'CreateInvoiceResult',
  types: () =>
    [
      InvoiceType,
      NoBillableUsage,
      PeriodNotEnded,
      InvoiceStateError,
      PaymentProviderUnavailable,
      InvoiceTotalMismatch,
      InvoiceAmountRefused,
    ] as const,
});

export const PayInvoiceResult = createUnionType({
  name: 'PayInvoiceResult',
  types: () =>
    [
      InvoiceType,
      PaymentDeclined,
      PaymentRequiresAction,
      InvoiceStateError,
      PaymentProviderUnavailable,
      InvoiceTotalMismatch,
      PaymentAttemptsExceeded,
    ] as const,
});

export const CancelInvoiceResult = createUnionType({
  name: 'CancelInvoiceResult',
  types: () => [InvoiceType, InvoiceStateError, PaymentProviderUnavailable] as const,
});

@ObjectType({ simpleResolvers: true })
export class InvoiceEdge {
  @Field()
  cursor!: string;

  @Field(() => InvoiceType)
  node!: InvoiceType;
}

@ObjectType({ simpleResolvers: true })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType({ simpleResolvers: true })
export class InvoiceConnection {
  @Field(() => [InvoiceEdge])
  edges!: InvoiceEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ArgsType()
export class InvoicesArgs {
  @Field(() => String, { nullable: true, description: 'Admins: any user; users: their own only.' })
  userId?: string | null;

  @Field(() => InvoiceStatus, { nullable: true })
  status?: InvoiceStatus | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM' })
  period?: string | null;

  @Field(() => Int, { nullable: true, defaultValue: 20, description: '1 to 100.' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}

@ObjectType({ description: 'A status change of an invoice, pushed live.' })
export class PaymentStatusEvent {
  @Field(() => ID, {
    description: 'The id of this change in the status history; pass the last one seen as `after` to resume.',
  })
  changeId!: string;

  @Field(() => InvoiceType)
  invoice!: InvoiceType;

  @Field(() => InvoiceStatus)
  status!: InvoiceStatus;

  @Field(() => InvoiceStatus, { nullable: true })
  previousStatus!: InvoiceStatus | null;

  @Field()
  occurredAt!: Date;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field(() => StatusChangeSource)
  source!: StatusChangeSource;
}
