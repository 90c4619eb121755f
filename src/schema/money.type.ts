import { Field, ObjectType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';

/** An amount of money: integer minor units and ISO currency, plus exact decimal and display forms. */
@ObjectType('Money', {
  description: 'Money as integer minor units (cents; yen for JPY) and an ISO 4217 currency.',
  // Plain data, several per invoice line: read directly (see InvoiceLine in invoice.types.ts).
  simpleResolvers: true,
})
export class MoneyType {
  @Field(() => GraphQLSafeInt, { description: 'Integer amount in the currency minor unit (2550 = $25.50).' })
  amountMinor!: number;

  @Field({ description: 'Lower-case ISO 4217 code, e.g. "usd".' })
  currency!: string;

  @Field({ description: 'Exact decimal amount in major units, e.g. "25.50".' })
  amount!: string;

  @Field({ description: 'Localised display form, e.g. "$25.50".' })
  formatted!: string;
}
