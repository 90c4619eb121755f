/**
 * Requests per second the local Stripe emulator serves through the real SDK: `customers.retrieve` alone, and a mixed
 * workload shaped like a billing month (per cycle: a customer created and retrieved, two invoice items, an invoice
 * created, retrieved, finalized and paid, the customer's invoices listed, a list of customers: 10 requests, 7 of
 * them writes).
 *
 *   npm run bench:emulator -- [--url http://127.0.0.1:12111] [--seconds 5] [--concurrency 32] [--rounds 3]
 *                             [--workload both|retrieve|mixed] [--profile ideal|realistic] [--smoke] [--json]
 *
 * Without --url it starts the emulator (dist/emulator/main.js) in a child process, so client and server each get a
 * core; its RSS is reported. It starts it on the ideal profile (writes answer at once), or with `--profile realistic`
 * on the realistic one (each write holds its objects' locks 5 ms before it answers); the first line says which profile
 * the emulator measured runs. Rounds alternate the two workloads; figures are medians. `--workload` runs one of them
 * alone (to profile the emulator under it: `--url` a `node --cpu-prof dist/emulator/main.js`). Target (issue 21): the
 * local Stripe at ≥ 5,000 requests/s. Baseline of the mixed figure: the retrieve-only figure of the same run.
 */
import Stripe from 'stripe';
import { numberFlag, parseCommandLine } from '../src/cli/args';
import { spawnEmulator } from './lib/emulator-process';
import { BENCH_OPTIONS, cpuSeconds, emitRow, ratioOf, rssMb } from './lib/bench-row';
import { loadAverage, median } from './lib/bench-util';

const { flags } = parseCommandLine(process.argv.slice(2), {
  url: { type: 'string', value: 'URL', description: 'a running emulator (default: start one)' },
  seconds: { type: 'string', value: 'N', description: 'how long to measure each workload (default 5)' },
  concurrency: { type: 'string', value: 'N', description: 'requests in flight (default 32)' },
  rounds: { type: 'string', value: 'N', description: 'alternating rounds; figures are medians (default 3)' },
  workload: { type: 'string', value: 'W', description: 'both (default), retrieve or mixed alone' },
  profile: {
    type: 'string',
    value: 'P',
    description: "the started emulator's profile: ideal (default) or realistic (each write holds its locks 5 ms)",
  },
  ...BENCH_OPTIONS,
});
const smoke = flags.smoke === true;
const json = flags.json === true;
const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const TARGET = 5000;

interface Measured {
  rps: number;
  /** Requests per CPU-second of the emulator process (what one core of it serves), when it is a child. */
  perCpuSecond: number | null;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
}

/** `concurrency` loops of `step` for `seconds`; each step's requests counted once it resolves. */
async function drive(
  server: number | null,
  seconds: number,
  concurrency: number,
  step: (worker: number, latency: (ms: number) => void) => Promise<void>,
): Promise<Measured> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  const cpuBefore = server === null ? null : cpuSeconds(server);
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (Date.now() < deadline) {
        try {
          await step(worker, (ms) => latencies.push(ms));
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = server === null ? null : cpuSeconds(server);
  const cpu = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return {
    rps: latencies.length / elapsed,
    perCpuSecond: cpu ? latencies.length / cpu : null,
    requests: latencies.length,
    errors,
    p50: pct(50),
    p99: pct(99),
  };
}

/** Times one SDK call into `latency`. */
async function timed<T>(latency: (ms: number) => void, call: () => Promise<T>): Promise<T> {
  const t0 = process.hrtime.bigint();
  const result = await call();
  latency(Number(process.hrtime.bigint() - t0) / 1e6);
  return result;
}

let cycles = 0;

/** One billing-like cycle: 10 requests, 7 of them writes. */
async function mixedCycle(stripe: Stripe, worker: number, latency: (ms: number) => void): Promise<void> {
  const n = (cycles += 1);
  const customer = await timed(latency, () =>
    stripe.customers.create({ email: `bench-${worker}-${n}@example.com`, metadata: { agenthubUserId: `u-${n}` } }),
  );
  await timed(latency, () => stripe.customers.retrieve(customer.id));
  const invoice = await timed(latency, () =>
    stripe.invoices.create({
      customer: customer.id,
      currency: 'usd',
      collection_method: 'send_invoice',
      days_until_due: 30,
      auto_advance: false,
      pending_invoice_items_behavior: 'exclude',
      metadata: { agenthubInvoiceId: `inv-${n}` },
    }),
  );
  for (const amount of [1234, 567]) {
    await timed(latency, () =>
      stripe.invoiceItems.create({
        customer: customer.id,
        invoice: invoice.id,
        amount,
        currency: 'usd',
        description: 'bench usage',
      }),
    );
  }
  await timed(latency, () => stripe.invoices.retrieve(invoice.id as string));
  await timed(latency, () => stripe.invoices.finalizeInvoice(invoice.id as string));
  await timed(latency, () =>
    stripe.invoices.pay(invoice.id as string, { payment_method: 'pm_card_visa' }, { idempotencyKey: `pay-${n}` }),
  );
  await timed(latency, () => stripe.invoices.list({ customer: customer.id, limit: 10 }));
  await timed(latency, () => stripe.customers.list({ limit: 10 }));
}

/** The medians of both workloads, against the target, and their BENCH_ROWs. */
function report(results: { retrieve: Measured[]; mixed: Measured[] }, concurrency: number, rss: number | null): void {
  const retrieveRps = median(results.retrieve.map((m) => m.rps));
  const mixedRps = median(results.mixed.map((m) => m.rps));
  const perCpu = (xs: Measured[]): number | null =>
    xs.some((m) => m.perCpuSecond === null) ? null : median(xs.map((m) => m.perCpuSecond as number));
  const retrieveCpu = perCpu(results.retrieve);
  const mixedCpu = perCpu(results.mixed);
  if (mixedCpu !== null && retrieveCpu !== null) {
    out(
      `  per emulator CPU-second (what one core of it serves, whatever else the machine runs): ` +
        `retrieve ${retrieveCpu.toFixed(0)}, mixed ${mixedCpu.toFixed(0)}`,
    );
  }
  out(
    `  median: customers.retrieve ${retrieveRps.toFixed(0)} req/s; mixed ${mixedRps.toFixed(0)} req/s ` +
      `(${(mixedRps / retrieveRps).toFixed(2)}× retrieve); target ≥ ${TARGET}/s` +
      (smoke ? '' : `: ${mixedRps >= TARGET ? 'MET' : 'NOT MET'}`) +
      (rss === null ? '' : `; emulator RSS ${rss} MB`),
  );
  const row = { bench: 'emulator', unit: 'requests/s', target: `≥ ${TARGET}/s`, rssMb: rss };
  emitRow(json, {
    ...row,
    path: `local Stripe: customers.retrieve, ${concurrency} in flight`,
    figure: Math.round(retrieveRps),
    baseline: null,
    baselineFigure: null,
    ratio: null,
  });
  emitRow(json, {
    ...row,
    path: `local Stripe: mixed (create, retrieve, list, invoice finalize/pay), ${concurrency} in flight`,
    figure: Math.round(mixedRps),
    baseline: 'customers.retrieve',
    baselineFigure: Math.round(retrieveRps),
    ratio: ratioOf(mixedRps, retrieveRps),
  });
  if (mixedCpu !== null && retrieveCpu !== null) {
    emitRow(json, {
      ...row,
      path: 'local Stripe: mixed, requests per CPU-second of the emulator (one core of it)',
      figure: Math.round(mixedCpu),
      unit: 'requests/CPU-s',
      baseline: 'customers.retrieve per CPU-second',
      baselineFigure: Math.round(retrieveCpu),
      ratio: ratioOf(mixedCpu, retrieveCpu),
      target: `≥ ${TARGET}/s`,
    });
  }
}

/** Which profile the emulator runs (`GET /_emulator/locks`): ideal writes answer at once, realistic ones later. */
async function profileOf(base: URL): Promise<string> {
  const res = await fetch(new URL('/_emulator/locks', base));
  const { modes } = (await res.json()) as { modes: { writeMs: number } };
  return modes.writeMs > 0
    ? `realistic profile (each write holds its objects' locks ${modes.writeMs} ms)`
    : 'ideal profile (writes answer at once)';
}

async function main(): Promise<void> {
  const seconds = numberFlag(flags, 'seconds', smoke ? 1 : 5);
  const concurrency = numberFlag(flags, 'concurrency', 32);
  const rounds = Math.max(1, numberFlag(flags, 'rounds', smoke ? 1 : 3));
  const workload = typeof flags.workload === 'string' ? flags.workload : 'both';
  if (!['both', 'retrieve', 'mixed'].includes(workload)) {
    throw new Error(`--workload must be both, retrieve or mixed, got "${workload}"`);
  }
  const workloads = workload === 'both' ? (['retrieve', 'mixed'] as const) : ([workload] as ['retrieve' | 'mixed']);
  const profile = typeof flags.profile === 'string' ? flags.profile : 'ideal';
  if (!['ideal', 'realistic'].includes(profile)) {
    throw new Error(`--profile must be ideal or realistic, got "${profile}"`);
  }
  const given = typeof flags.url === 'string' ? flags.url : null;
  const spawned = given
    ? null
    : await spawnEmulator(profile === 'realistic' ? ['--delivery', 'realistic', '--delivery-seed', '1'] : []);
  const base = new URL(given ?? spawned?.url ?? '');
  const stripe = new Stripe('sk_test_bench', {
    host: base.hostname,
    port: Number(base.port),
    protocol: 'http',
    maxNetworkRetries: 0,
  });
  try {
    const customer = await stripe.customers.create({ email: 'bench@example.com' });
    const retrieve = (_: number, latency: (ms: number) => void): Promise<void> =>
      timed(latency, () => stripe.customers.retrieve(customer.id)).then(() => undefined);
    const mixed = (worker: number, latency: (ms: number) => void): Promise<void> => mixedCycle(stripe, worker, latency);
    const pid = spawned?.child.pid ?? null;
    // Warm up connections and JIT.
    for (const workload of workloads) {
      await drive(pid, Math.min(1, seconds), concurrency, workload === 'retrieve' ? retrieve : mixed);
    }
    out(
      `local Stripe through the stripe SDK, concurrency ${concurrency}, ${seconds} s per workload, ` +
        `${await profileOf(base)}`,
    );
    const results = { retrieve: [] as Measured[], mixed: [] as Measured[] };
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? workloads : [...workloads].reverse();
      for (const workload of order) {
        const m = await drive(pid, seconds, concurrency, workload === 'retrieve' ? retrieve : mixed);
        results[workload].push(m);
        out(
          `  round ${round + 1} ${workload.padEnd(8)} ${m.requests} requests → ${m.rps.toFixed(0)} req/s ` +
            `(p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, errors ${m.errors})` +
            (m.perCpuSecond === null ? '' : `; ${m.perCpuSecond.toFixed(0)} per emulator CPU-second`) +
            `  (load ${loadAverage()})`,
        );
      }
    }
    const rss = spawned ? rssMb(spawned.child.pid) : null;
    const errors = [...results.retrieve, ...results.mixed].reduce((sum, m) => sum + m.errors, 0);
    if (workloads.length === 2) {
      report(results, concurrency, rss);
    } else {
      // One workload alone (profiling): its medians, no rows.
      const runs = results[workloads[0]];
      const cpu = runs.every((m) => m.perCpuSecond !== null)
        ? `; ${median(runs.map((m) => m.perCpuSecond as number)).toFixed(0)} per emulator CPU-second`
        : '';
      out(`  median: ${workloads[0]} ${median(runs.map((m) => m.rps)).toFixed(0)} req/s${cpu}`);
    }
    if (errors > 0) {
      process.stderr.write(`${errors} requests failed\n`);
      process.exitCode = 1;
    }
  } finally {
    spawned?.child.kill('SIGTERM');
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
