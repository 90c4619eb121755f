import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { dunningOfInvoices, listDunning } from '../services/dunning/get-dunning.service';
import { getInvoice } from '../services/invoicing/get-invoices.service';
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
    // The invoice was read under the caller's access rule by the query that returned it.
    return (await dunningOfInvoices(ctx.em, [invoice.id])).get(invoice.id) ?? null;
  }

  @Query(() => [DunningInvoiceType], {
    description: 'Admins: the invoices of a period YYYY-MM that are or were in dunning, the next step first.',
  })
  async dunningInvoices(@Arg('period') period: string, @Ctx() ctx: GraphQLContext): Promise<DunningInvoiceType[]> {
    const rows = await listDunning(ctx.em, ctx.caller, period);
    const out: DunningInvoiceType[] = [];
    for (const dunning of rows) {
      out.push({ invoice: toInvoice(await getInvoice(ctx.em, ctx.caller, dunning.invoiceId)), dunning });
    }
    return out;
  }
}
