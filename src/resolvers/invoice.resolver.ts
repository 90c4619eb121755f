import { Arg, Args, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import { cancelInvoice } from '../services/invoicing/cancel-invoice.service';
import { createInvoice } from '../services/invoicing/create-invoice.service';
import type { InvoiceDeps } from '../services/invoicing/invoice-deps';
import { getInvoice, listInvoices } from '../services/invoicing/get-invoices.service';
import type { InvoiceRecord } from '../services/invoicing/invoice-read-model';
import { payInvoice } from '../services/payments/pay-invoice.service';
import type { StatusChangeEvent } from '../services/status-feed/status-change-hub';
import { watchPaymentStatus } from '../services/status-feed/watch-payment-status.service';
import {
  CancelInvoiceResult,
  CreateInvoiceResult,
  InvoiceConnection,
  InvoiceStateError,
  InvoiceTotalMismatch,
  InvoiceAmountRefused,
  InvoiceType,
  InvoicesArgs,
  NoBillableUsage,
  PayInvoiceResult,
  PaymentAttemptsExceeded,
  PaymentDeclined,
  PaymentProviderUnavailable,
  PaymentRequiresAction,
  PaymentStatusEvent,
  PeriodNotEnded,
} from '../schema/invoice.types';
import type { GraphQLContext } from './context';
import { toInvoice, toMoney } from './mappers';
import type { Invoice } from '../entities';
import type { InvoiceStatus } from '../entities/enums';
import type { TotalMismatch } from '../stripe';

const deps = (ctx: GraphQLContext): InvoiceDeps => ({
  em: ctx.em,
  gateway: ctx.gateway,
  config: ctx.config,
  now: new Date(ctx.clock.now()),
  log: ctx.log,
});

/** Union members are class instances so type-graphql resolves them by `instanceof`. */
async function invoiceOf(ctx: GraphQLContext, invoice: Invoice): Promise<InvoiceType> {
  return Object.assign(new InvoiceType(), toInvoice(await getInvoice(ctx.em, ctx.caller, invoice.id)));
}

function stateError(outcome: { status: InvoiceStatus; message: string }): InvoiceStateError {
  return Object.assign(new InvoiceStateError(), {
    code: 'INVALID_INVOICE_STATE',
    message: outcome.message,
    status: outcome.status,
  });
}

async function unavailable(
  ctx: GraphQLContext,
  code: 'PAYMENT_PROVIDER_UNAVAILABLE' | 'PAYMENT_PENDING',
  outcome: { message: string; invoice: Invoice },
): Promise<PaymentProviderUnavailable> {
  return Object.assign(new PaymentProviderUnavailable(), {
    code,
    message: outcome.message,
    invoice: await invoiceOf(ctx, outcome.invoice),
  });
}

async function totalMismatch(
  ctx: GraphQLContext,
  outcome: { message: string; invoice: Invoice; mismatch: TotalMismatch },
): Promise<InvoiceTotalMismatch> {
  return Object.assign(new InvoiceTotalMismatch(), {
    code: 'INVOICE_TOTAL_MISMATCH',
    message: outcome.message,
    invoice: await invoiceOf(ctx, outcome.invoice),
    stripeTotal: toMoney(outcome.mismatch.stripeTotalMinor, outcome.mismatch.stripeCurrency.toUpperCase()),
  });
}

/**
 * The invoice of a status change, mapped once per change and instance: the hub hands the same view to every
 * subscriber (the access rule was applied when each subscribed), so thousands of subscribers share one mapping.
 */
const mappedInvoices = new WeakMap<InvoiceRecord, InvoiceType>();
function sharedInvoice(view: InvoiceRecord): InvoiceType {
  let mapped = mappedInvoices.get(view);
  if (!mapped) {
    mapped = toInvoice(view);
    mappedInvoices.set(view, mapped);
  }
  return mapped;
}

@Resolver()
export class InvoiceResolver {
  @Query(() => InvoiceType, { description: 'One invoice: your own, or any for admins.' })
  async invoice(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<InvoiceType> {
    return toInvoice(await getInvoice(ctx.em, ctx.caller, id));
  }

  @Query(() => InvoiceConnection, { description: 'Invoices, newest first (Relay connection).' })
  async invoices(@Args(() => InvoicesArgs) args: InvoicesArgs, @Ctx() ctx: GraphQLContext): Promise<InvoiceConnection> {
    const page = await listInvoices(ctx.em, ctx.caller, args);
    return {
      edges: page.invoices.map((invoice, i) => ({ cursor: page.cursors[i], node: toInvoice(invoice) })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.cursors.at(-1) ?? null },
      totalCount: page.totalCount,
    };
  }

  @Mutation(() => CreateInvoiceResult, {
    description: 'Creates the invoice of an ended period YYYY-MM (idempotent: returns the existing one).',
  })
  async createInvoice(
    @Arg('period') period: string,
    @Arg('userId', () => String, { nullable: true }) userId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<typeof CreateInvoiceResult> {
    const outcome = await createInvoice(deps(ctx), ctx.caller, { period, userId });
    switch (outcome.kind) {
      case 'invoice':
        return invoiceOf(ctx, outcome.invoice);
      case 'no_usage':
        return Object.assign(new NoBillableUsage(), {
          code: 'NO_BILLABLE_USAGE',
          message: `No billable usage in ${outcome.period}`,
          period: outcome.period,
        });
      case 'period_not_ended':
        return Object.assign(new PeriodNotEnded(), {
          code: 'PERIOD_NOT_ENDED',
          message: `Period ${outcome.period} has not ended yet`,
          period: outcome.period,
        });
      case 'cancelled':
        return stateError({ status: outcome.invoice.status, message: outcome.message });
      case 'total_mismatch':
        return totalMismatch(ctx, outcome);
      case 'stripe_refused':
        return Object.assign(new InvoiceAmountRefused(), {
          code: 'STRIPE_REFUSED_AMOUNT',
          message: outcome.message,
          stripeCode: outcome.stripeCode,
          invoice: invoiceOf(ctx, outcome.invoice),
        });
      default:
        return unavailable(ctx, 'PAYMENT_PROVIDER_UNAVAILABLE', outcome);
    }
  }

  @Mutation(() => PayInvoiceResult, { description: 'Pays an invoice with a Stripe payment method id (pm_…).' })
  async payInvoice(
    @Arg('invoiceId', () => ID) invoiceId: string,
    @Arg('paymentMethodId') paymentMethodId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<typeof PayInvoiceResult> {
    const outcome = await payInvoice(deps(ctx), ctx.caller, { invoiceId, paymentMethodId });
    switch (outcome.kind) {
      case 'paid':
        return invoiceOf(ctx, outcome.invoice);
      case 'declined':
        return Object.assign(new PaymentDeclined(), {
          code: 'PAYMENT_DECLINED',
          message: outcome.message,
          declineCode: outcome.declineCode,
          invoice: await invoiceOf(ctx, outcome.invoice),
        });
      case 'requires_action': {
        const invoice = await invoiceOf(ctx, outcome.invoice);
        return Object.assign(new PaymentRequiresAction(), {
          code: 'PAYMENT_REQUIRES_ACTION',
          message: outcome.message,
          clientSecret: outcome.clientSecret,
          paymentUrl: invoice.paymentUrl,
          invoice,
        });
      }
      case 'invalid_state':
        return stateError(outcome);
      case 'total_mismatch':
        return totalMismatch(ctx, outcome);
      case 'attempts_exceeded':
        return Object.assign(new PaymentAttemptsExceeded(), {
          code: 'PAYMENT_ATTEMPTS_EXCEEDED',
          message: outcome.message,
          scope: outcome.block.scope,
          failedAttempts: outcome.block.failedAttempts,
          limit: outcome.block.limit,
          windowSeconds: outcome.block.windowSeconds,
          resetsAt: outcome.block.resetsAt,
        });
      default:
        return unavailable(ctx, 'PAYMENT_PENDING', outcome);
    }
  }

  @Mutation(() => CancelInvoiceResult, { description: 'Voids an unpaid invoice (deletes a Stripe draft).' })
  async cancelInvoice(
    @Arg('invoiceId', () => ID) invoiceId: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<typeof CancelInvoiceResult> {
    const outcome = await cancelInvoice(deps(ctx), ctx.caller, { invoiceId, reason });
    switch (outcome.kind) {
      case 'voided':
        return invoiceOf(ctx, outcome.invoice);
      case 'invalid_state':
        return stateError(outcome);
      default:
        return unavailable(ctx, 'PAYMENT_PROVIDER_UNAVAILABLE', outcome);
    }
  }

  @Subscription(() => PaymentStatusEvent, {
    description:
      'Status changes of an invoice, or of all your invoices, as they commit. With `after` (the `changeId` of the ' +
      'last event a client saw) the changes it missed come first, then live ones, none twice.',
    subscribe: ({
      args,
      context,
    }: SubscribeResolverData<unknown, { invoiceId?: string; userId?: string; after?: string }, GraphQLContext>) =>
      watchPaymentStatus(context.em, context.statusHub, context.caller, args),
  })
  paymentStatusChanged(
    @Root() event: StatusChangeEvent,
    @Arg('invoiceId', () => ID, { nullable: true }) _invoiceId: string | null,
    @Arg('userId', () => String, { nullable: true }) _userId: string | null,
    @Arg('after', () => ID, { nullable: true, description: 'Resume after this change id: missed changes first.' })
    _after: string | null,
  ): PaymentStatusEvent {
    return {
      changeId: event.changeId,
      invoice: sharedInvoice(event.invoice),
      status: event.status,
      previousStatus: event.previousStatus,
      occurredAt: event.occurredAt,
      reason: event.reason,
      source: event.source,
    };
  }
}
