import type Stripe from 'stripe';
import { EmulatorControl } from '../../emulator/control-client';
import { startEmulator, type RunningEmulator } from '../../emulator/server';
import { createStripeClient, RateLimiter, StripeGateway } from '../../src/stripe';
import type { ExpectedTotal, RemoteInvoice, StripeClientOptions } from '../../src/stripe';
import type { ManualClock } from '../helpers/clock';

export const SECRET_KEY = 'sk_test_agenthub_gateway_secret_4242';

export interface GatewayHarness {
  emulator: RunningEmulator;
  control: EmulatorControl;
  stripe: Stripe;
  gateway: StripeGateway;
  /** Idempotency keys of every HTTP attempt the SDK made (retries included), in order. */
  requests: Array<{ method: string; path: string; idempotencyKey?: string }>;
  /** Requests sent and not yet answered, over every client of the harness (one never answered stays counted). */
  inFlight(): number;
  /** A gateway over a differently configured client on the same emulator. */
  gatewayWith(options: Partial<StripeClientOptions>, limiter?: RateLimiter): StripeGateway;
  stop(): Promise<void>;
}

/** A generous limiter so tests are not paced; the rate-limit tests build their own. */
export const fastLimiter = (): RateLimiter => new RateLimiter({ requestsPerSecond: 10_000, burst: 1_000 });

/** `clock`: the local Stripe's (its rate limit's window); answers poke it, for `ManualClock.runUntilSettled`. */
export async function startGatewayHarness(options: { clock?: ManualClock } = {}): Promise<GatewayHarness> {
  const emulator = await startEmulator({ port: 0, clock: options.clock });
  const requests: GatewayHarness['requests'] = [];
  let inFlight = 0;
  const client = (clientOptions: Partial<StripeClientOptions>): Stripe => {
    const stripe = createStripeClient({ secretKey: SECRET_KEY, apiBase: emulator.url, ...clientOptions });
    stripe.on('request', (event: Stripe.RequestEvent) => {
      inFlight += 1;
      requests.push({ method: event.method, path: event.path, idempotencyKey: event.idempotency_key });
    });
    stripe.on('response', () => {
      inFlight -= 1;
      options.clock?.poke();
    });
    return stripe;
  };
  const stripe = client({});
  return {
    emulator,
    control: new EmulatorControl(emulator.url),
    stripe,
    gateway: new StripeGateway({ stripe, limiter: fastLimiter() }),
    requests,
    inFlight: () => inFlight,
    gatewayWith: (options, limiter = fastLimiter()) => new StripeGateway({ stripe: client(options), limiter }),
    stop: () => emulator.stop(),
  };
}

let sequence = 0;

/** Fresh ids for our rows, unique across the run (invoice numbers must be unique in Stripe). */
export function ourIds(): { customerId: string; invoiceId: string; number: string } {
  sequence += 1;
  const suffix = `${Date.now().toString(36)}${sequence}`;
  return {
    customerId: `cust_${suffix}`,
    invoiceId: `inv_${suffix}`,
    number: `AH-2026-10-${String(sequence).padStart(6, '0')}-${suffix}`,
  };
}

export interface OpenInvoice {
  invoiceId: string;
  /** What our side says the invoice totals (the sum of the amounts). */
  expected: ExpectedTotal;
  stripeCustomerId: string;
  stripeInvoiceId: string;
  invoice: RemoteInvoice;
}

/** Customer → draft → the given lines → finalized (open), all through the gateway. */
export async function openInvoice(gateway: StripeGateway, amounts: bigint[] = [2500n]): Promise<OpenInvoice> {
  const ids = ourIds();
  const stripeCustomerId = await gateway.createCustomer({
    customerId: ids.customerId,
    externalUserId: `user_${ids.customerId}`,
    email: 'ada@example.com',
    name: 'Ada',
  });
  const draft = await gateway.createInvoice({
    invoiceId: ids.invoiceId,
    number: ids.number,
    stripeCustomerId,
    currency: 'usd',
    daysUntilDue: 30,
    period: '2026-10',
  });
  for (const [index, amountMinor] of amounts.entries()) {
    await gateway.addInvoiceItem({
      invoiceId: ids.invoiceId,
      lineId: `line_${index}`,
      stripeCustomerId,
      stripeInvoiceId: draft.id,
      amountMinor,
      currency: 'usd',
      description: `Usage ${index}`,
    });
  }
  const expected = { totalMinor: amounts.reduce((a, b) => a + b, 0n), currency: 'usd' };
  const invoice = await gateway.finalizeInvoice(ids.invoiceId, draft.id, expected);
  return { invoiceId: ids.invoiceId, expected, stripeCustomerId, stripeInvoiceId: draft.id, invoice };
}

/** Invoice payments Stripe recorded as paid for an invoice: the number of successful charges. */
export async function paidPayments(stripe: Stripe, stripeInvoiceId: string): Promise<number> {
  const payments = await stripe.invoicePayments.list({ invoice: stripeInvoiceId, limit: 100 });
  return payments.data.filter((p) => p.status === 'paid').length;
}
