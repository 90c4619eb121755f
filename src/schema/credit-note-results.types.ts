import { Field, ID, InputType, ObjectType, createUnionType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { CreditNoteType } from './credit-note.types';
import { ErrorResult, InvoiceStateError, InvoiceType, PaymentProviderUnavailable } from './invoice.types';
import { MoneyType } from './money.type';

@ObjectType('InvoiceCreditNote', { description: 'The credit note made, and its invoice as it is now.' })
export class InvoiceCreditNote {
  @Field(() => InvoiceType)
  invoice!: InvoiceType;

  @Field(() => CreditNoteType)
  creditNote!: CreditNoteType;
}

@ObjectType({
  implements: ErrorResult,
  description: 'More than can be refunded (paid less refunded) or credited (still due); `available` is what can.',
})
export class CreditAmountExceeded extends ErrorResult {
  @Field(() => MoneyType)
  available!: MoneyType;
}

@ObjectType({
  implements: ErrorResult,
  description: 'Stripe refused the credit note: nothing was refunded or credited.',
})
export class CreditNoteRefused extends ErrorResult {
  @Field(() => InvoiceType)
  invoice!: InvoiceType;
}

@InputType({ description: 'Part of an invoice line to credit.' })
export class CreditNoteLineInput {
  @Field(() => ID)
  invoiceLineId!: string;

  @Field(() => GraphQLSafeInt, { description: 'Minor units, at most what is left of the line.' })
  amountMinor!: number;
}

const members = () =>
  [InvoiceCreditNote, InvoiceStateError, CreditAmountExceeded, CreditNoteRefused, PaymentProviderUnavailable] as const;

export const RefundInvoiceResult = createUnionType({ name: 'RefundInvoiceResult', types: members });
export const CreateCreditNoteResult = createUnionType({ name: 'CreateCreditNoteResult', types: members });
