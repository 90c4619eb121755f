import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { EmulatorControl } from '../../emulator/control-client';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../emulator/server';
import { WAIT_GUARD_MS } from '../helpers/clock';

export const TEST_KEY = 'sk_test_emulator_conformance';

export interface Harness {
  emulator: RunningEmulator;
  stripe: Stripe;
  control: EmulatorControl;
}

/** An emulator on an ephemeral port and an SDK client that does not retry (errors are seen as they are). */
export async function startHarness(options: EmulatorOptions = {}): Promise<Harness> {
  const emulator = await startEmulator({ port: 0, ...options });
  return { emulator, stripe: stripeClient(emulator), control: new EmulatorControl(emulator.url) };
}

/** A harness for a whole test file; given a `webhookSecret`, with a receiver its webhooks are delivered to. */
export interface FileHarness extends Harness {
  /** Only when `useHarness` was given a `webhookSecret`. */
  receiver: Receiver;
}

/**
 * Starts a harness (and a receiver first, when `options.webhookSecret` is set) before the file's tests and stops
 * both after them. Its fields are there from the first test (or hook) on.
 */
export function useHarness(options: EmulatorOptions = {}): FileHarness {
  let started: (Harness & { receiver?: Receiver }) | undefined;
  const get = (): Harness & { receiver?: Receiver } => {
    if (!started) {
      throw new Error('the harness starts in beforeAll: read it inside a test or hook');
    }
    return started;
  };
  beforeAll(async () => {
    const receiver = options.webhookSecret ? await startReceiver() : undefined;
    const harness = await startHarness(receiver ? { webhookUrl: receiver.url, ...options } : options);
    started = { ...harness, receiver };
  });
  afterAll(async () => {
    await started?.emulator.stop();
    await started?.receiver?.stop();
  });
  return {
    get emulator() {
      return get().emulator;
    },
    get stripe() {
      return get().stripe;
    },
    get control() {
      return get().control;
    },
    get receiver() {
      const { receiver } = get();
      if (!receiver) {
        throw new Error('no receiver: give useHarness a webhookSecret');
      }
      return receiver;
    },
  };
}

export function stripeClient(
  emulator: RunningEmulator,
  extra: Partial<Stripe.StripeConfig> = {},
  key = TEST_KEY,
): Stripe {
  return new Stripe(key, { ...emulator.stripeConfig, maxNetworkRetries: 0, timeout: 5_000, ...extra });
}

export interface Received {
  body: string;
  headers: http.IncomingHttpHeaders;
  status: number;
}

/** Put in `Receiver.statuses` to leave a request unanswered. */
export const HANG = -1;

export interface Receiver {
  url: string;
  received: Received[];
  /** Status to answer for the next request (shifted per request); 200 when empty. */
  statuses: number[];
  /** Resolves once `count` requests have arrived (answered or not); `timeoutMs` is only a guard. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  stop(): Promise<void>;
}

/** A tiny webhook receiver on an ephemeral port that records every POST. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const statuses: number[] = [];
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, status });
      waiters.splice(0).forEach((w) => w());
      if (status === HANG) {
        return; // never answer: the sender times out
      }
      res.writeHead(status, { Connection: 'close' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    statuses,
    async waitFor(count, timeoutMs = WAIT_GUARD_MS) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} webhooks, got ${received.length}`)),
          timeoutMs,
        );
        const check = (): void => {
          if (received.length >= count) {
            clearTimeout(timer);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        check();
      });
      return received;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Create a customer and an open invoice of `amount` (usd unless given). */
export async function openInvoice(
  stripe: Stripe,
  amount = 2500,
  currency = 'usd',
  invoiceParams: Partial<Stripe.InvoiceCreateParams> = {},
): Promise<Stripe.Invoice> {
  const customer = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada' });
  const draft = await stripe.invoices.create({ customer: customer.id, currency, ...invoiceParams });
  await stripe.invoiceItems.create({
    customer: customer.id,
    invoice: draft.id,
    amount,
    currency,
    description: 'Usage',
  });
  return stripe.invoices.finalizeInvoice(draft.id);
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (e) {
    return e as Stripe.errors.StripeError;
  }
  throw new Error('expected the call to fail');
}
