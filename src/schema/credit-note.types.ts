import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { CreditNoteKind, CreditNoteStatus } from '../entities/enums';
import { MoneyType } from './money.type';

registerEnumType(CreditNoteKind, {
  name: 'CreditNoteKind',
  description:
    "REFUND: money given back from a paid invoice to the customer's card; CREDIT: less asked of an unpaid one.",
});
registerEnumType(CreditNoteStatus, {
  name: 'CreditNoteStatus',
  description: 'PENDING while Stripe is asked, ISSUED once made, FAILED when Stripe refused it, VOID when voided.',
});

@ObjectType('CreditNoteLine', { simpleResolvers: true })
export class CreditNoteLineType {
  @Field()
  description!: string;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => ID, { nullable: true, description: 'The invoice line it credits, when it credits one.' })
  invoiceLineId!: string | null;
}

@ObjectType('CreditNote', {
  description: 'A credit note of an invoice, made through Stripe: a refund, or a credit before payment.',
  simpleResolvers: true,
})
export class CreditNoteType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'PREFIX-CN-YYYY-MM-NNNNNN' })
  number!: string;

  @Field(() => CreditNoteKind)
  kind!: CreditNoteKind;

  @Field(() => CreditNoteStatus)
  status!: CreditNoteStatus;

  @Field(() => MoneyType)
  amount!: MoneyType;

  @Field(() => MoneyType, { description: "What went back to the customer's card." })
  refunded!: MoneyType;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field(() => [CreditNoteLineType])
  lines!: CreditNoteLineType[];

  @Field()
  createdAt!: Date;
}
