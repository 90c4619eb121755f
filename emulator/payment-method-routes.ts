import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { getCustomer } from './customers';
import { invalidState, paramMissing } from './errors';
import { render } from './expand';
import { listParams, newestFirst, paginate } from './list';
import { allowOnly, str } from './params';
import { ownPaymentMethod, requirePaymentMethod } from './payment-methods';

function attach(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['customer', 'customer_account', 'expand'] satisfies Array<
    keyof Stripe.PaymentMethodAttachParams
  >);
  const customerId = str(ctx.params, 'customer');
  if (!customerId) {
    throw paramMissing('customer');
  }
  const customer = getCustomer(ctx, customerId, 'customer');
  const pm = ownPaymentMethod(ctx.emu, requirePaymentMethod(ctx.emu, ctx.path.id, 'id'));
  if (pm.customer && pm.customer !== customer.id) {
    throw invalidState(
      'The payment method you provided has already been attached to a customer.',
      'payment_method_unexpected_state',
    );
  }
  pm.customer = customer.id;
  ctx.emu.emit('payment_method.attached', pm, ctx.request);
  return render(ctx.emu, pm, ctx.expand);
}

function detach(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  const pm = requirePaymentMethod(ctx.emu, ctx.path.id, 'id');
  if (!ctx.emu.state.paymentMethods.has(pm.id) || !pm.customer) {
    throw invalidState('The payment method you provided is not attached to a customer so detachment is impossible.');
  }
  const previous: Partial<Stripe.PaymentMethod> = { customer: pm.customer };
  pm.customer = null;
  ctx.emu.emit('payment_method.detached', pm, ctx.request, previous);
  return render(ctx.emu, pm, ctx.expand);
}

function listFor(ctx: ApiContext, customerId: string | undefined, url: string): unknown {
  const type = str(ctx.params, 'type');
  return paginate(
    newestFirst(ctx.emu.state.paymentMethods),
    ctx.params,
    url,
    'payment_method',
    (pm) => (customerId === undefined || pm.customer === customerId) && (type === undefined || pm.type === type),
  );
}

export function registerPaymentMethods(r: ApiRouter): void {
  r.get('/v1/payment_methods', (ctx) => {
    allowOnly(ctx.params, [
      'customer',
      'customer_account',
      'ending_before',
      'expand',
      'limit',
      'starting_after',
      'type',
    ]);
    const customer = str(ctx.params, 'customer');
    if (customer) {
      getCustomer(ctx, customer, 'customer');
    }
    return listFor(ctx, customer, '/v1/payment_methods');
  });
  r.get('/v1/payment_methods/:id', (ctx) => requirePaymentMethod(ctx.emu, ctx.path.id, 'id'));
  r.post('/v1/payment_methods/:id/attach', attach);
  r.post('/v1/payment_methods/:id/detach', detach);
  r.get('/v1/customers/:id/payment_methods', (ctx) => {
    allowOnly(ctx.params, listParams<Stripe.CustomerListPaymentMethodsParams>('allow_redisplay', 'type'));
    const customer = getCustomer(ctx, ctx.path.id);
    return listFor(ctx, customer.id, `/v1/customers/${customer.id}/payment_methods`);
  });
}
