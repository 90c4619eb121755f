import { ArgsType, Field, Int, ObjectType } from 'type-graphql';
import { Customer } from '../entities';
import { PageInfo } from './invoice.types';

@ObjectType()
export class CustomerEdge {
  @Field()
  cursor!: string;

  @Field(() => Customer)
  node!: Customer;
}

@ObjectType({ description: 'Billing customers, by user id.' })
export class CustomerConnection {
  @Field(() => [CustomerEdge])
  edges!: CustomerEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ArgsType()
export class CustomersArgs {
  @Field(() => String, {
    nullable: true,
    description: 'Only customers whose user id, e-mail or name contains this (any case; at most 100 characters).',
  })
  search?: string | null;

  @Field(() => Int, { nullable: true, defaultValue: 20, description: '1–100.' })
  first?: number | null;

  @Field(() => String, { nullable: true })
  after?: string | null;
}
