import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { listDunning } from '../services/dunning/get-dunning.service';
import { DunningInvoiceType, InvoiceDunningType } from '../schema/dunning.types';
import { InvoiceType } from '../schema/invoice.types';
import type { GraphQLContext } from './context';
import { toInvoice } from './mappers';

@Resolver(() => InvoiceType)
export class DunningResolver {
  @FieldResolver(() => InvoiceDunningType, {
    nullable: true,
    description: 'Where the invoice is in dunning; null when it never was.',
  })
  async dunning(@Root() invoice: InvoiceType, @Ctx() ctx: GraphQLContext): Promise<InvoiceDunningType | null> {
    // The invoice was read under the caller's access rule by the query that returned it. Batched: a page of invoices
    // reads the dunning of all of them in one statement.
    return ctx.loaders.dunning.load(invoice.id);
  }

  @Query(() => [DunningInvoiceType], {
    description: 'Admins: the invoices of a period YYYY-MM that are or were in dunning, the next step first.',
  })
  async dunningInvoices(@Arg('period') period: string, @Ctx() ctx: GraphQLContext): Promise<DunningInvoiceType[]> {
    const rows = await listDunning(ctx.em, ctx.caller, period);
    // What the list gives is each invoice's dunning: a nested `invoice { dunning }` reads it from there.
    for (const row of rows) {
      ctx.loaders.dunning.prime(row.dunning.invoiceId, row.dunning);
    }
    return rows.map((row) => ({ invoice: toInvoice(row.invoice), dunning: row.dunning }));
  }
}
