/**
 * Requests per second the local Stripe emulator serves: `customers.retrieve` alone, and a mixed workload shaped like a
 * billing month (per cycle: a customer created and retrieved, two invoice items, an invoice created, retrieved,
 * finalized and paid, the customer's invoices listed, a list of customers: 10 requests, 7 of them writes).
 *
 *   npm run bench:emulator -- [--seconds 5] [--concurrency 32] [--rounds 3] [--generators 2] [--client both|lean|sdk]
 *                             [--workload both|retrieve|mixed] [--profile ideal|realistic] [--compare MAIN_JS]
 *                             [--url http://127.0.0.1:12111] [--smoke] [--json]
 *
 * Two load generators, measured in the same run:
 * - `lean`: `--generators` processes (scripts/lib/emulator-load-worker.ts) replaying, on raw keep-alive connections,
 *   the very requests the `stripe` SDK sends (captured from it at start: paths, form bodies, Authorization,
 *   Stripe-Version, User-Agent headers, a fresh Idempotency-Key on every POST; scripts/lib/stripe-requests.ts), so the
 *   emulator rather than the client is what is measured;
 * - `sdk`: one SDK client in this process, the way this benchmark measured before (its row keeps figures comparable).
 * Without --url it starts the emulator (dist/emulator/main.js) in a child process and reports, from `/proc`, its CPU
 * time per request and how busy it was (CPU-seconds per second: near 1.0 means the emulator, one thread, is the
 * bottleneck; well below, the generator is); `--compare` starts another build of it too (e.g. main's
 * `dist/emulator/main.js`) and measures both in alternating rounds. The emulator runs the ideal profile (writes answer
 * at once) unless `--profile realistic` (each write holds its objects' locks 5 ms). Figures are medians of the rounds.
 * Target (issue 21): the local Stripe at ≥ 5,000 requests/s on the mixed workload.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { spawnEmulator } from './lib/emulator-process';
import { BENCH_OPTIONS, cpuSeconds, emitRow, ratioOf, rssMb } from './lib/bench-row';
import { benchCommandLine, loadAverage, median, runBench } from './lib/bench-util';
import type { LoadJob, LoadResult } from './lib/emulator-load-worker';
import { captureRequests, MARKERS, type RequestTemplate } from './lib/stripe-requests';

const ABOUT =
  'Requests per second the local Stripe emulator serves: customers.retrieve alone, and a billing-month mix.';
const { flags, number, refuse } = benchCommandLine('npm run bench:emulator', ABOUT, {
  url: { type: 'string', value: 'URL', description: 'a running emulator (default: start one)' },
  seconds: { type: 'string', value: 'N', description: 'how long to measure each workload (default 5)' },
  concurrency: { type: 'string', value: 'N', description: 'requests in flight (default 32)' },
  rounds: { type: 'string', value: 'N', description: 'alternating rounds; figures are medians (default 3)' },
  generators: { type: 'string', value: 'N', description: 'lean load-generator processes (default 2)' },
  client: { type: 'string', value: 'C', description: 'both (default), lean (generator processes) or sdk' },
  workload: { type: 'string', value: 'W', description: 'both (default), retrieve or mixed alone' },
  profile: {
    type: 'string',
    value: 'P',
    description: "the started emulator's profile: ideal (default) or realistic (each write holds its locks 5 ms)",
  },
  compare: {
    type: 'string',
    value: 'MAIN_JS',
    description: "another build's emulator/main.js, started and measured in the same rounds (e.g. main's)",
  },
  ...BENCH_OPTIONS,
});
const smoke = flags.smoke === true;
const json = flags.json === true;
const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const TARGET = 5000;

type Workload = 'retrieve' | 'mixed';
type Client = 'lean' | 'sdk';

interface Target {
  label: string;
  url: string;
  /** The emulator's process when this script started it (its CPU time is read from /proc), else null. */
  pid: number | null;
  child: ChildProcess | null;
  /** A customer the retrieve workload reads. */
  customer: string;
}

interface Measured {
  rps: number;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  /** Emulator CPU time per request, µs (null without a child emulator). */
  emulatorUs: number | null;
  /** Emulator CPU-seconds per second of the run: near 1.0, the emulator (one thread) is the bottleneck. */
  emulatorBusy: number | null;
  /** Load generators' CPU time per request, µs. */
  generatorUs: number;
  firstError: string | null;
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Runs `load` and measures it against the emulator's and the generators' CPU time. */
async function measure(
  target: Target,
  load: () => Promise<{ latencies: number[]; errors: number; generatorCpu: number; firstError: string | null }>,
): Promise<Measured> {
  const cpuBefore = target.pid === null ? null : cpuSeconds(target.pid);
  const started = process.hrtime.bigint();
  const { latencies, errors, generatorCpu, firstError } = await load();
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = target.pid === null ? null : cpuSeconds(target.pid);
  const cpu = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  return {
    rps: n / elapsed,
    requests: n,
    errors,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    emulatorUs: cpu === null || n === 0 ? null : (cpu / n) * 1e6,
    emulatorBusy: cpu === null ? null : cpu / elapsed,
    generatorUs: n === 0 ? 0 : (generatorCpu / n) * 1e6,
    firstError,
  };
}

/** Times one SDK call into `latency`. */
async function timed<T>(latency: (ms: number) => void, call: () => Promise<T>): Promise<T> {
  const t0 = process.hrtime.bigint();
  const result = await call();
  latency(Number(process.hrtime.bigint() - t0) / 1e6);
  return result;
}

/** One billing-like cycle: 10 requests, 7 of them writes; `tag` makes its emails and idempotency key unique. */
async function mixedCycle(stripe: Stripe, tag: string, latency: (ms: number) => void): Promise<void> {
  const customer = await timed(latency, () =>
    stripe.customers.create({ email: `bench-${tag}@example.com`, metadata: { agenthubUserId: `u-${tag}` } }),
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
      metadata: { agenthubInvoiceId: `inv-${tag}` },
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
    stripe.invoices.pay(invoice.id as string, { payment_method: 'pm_card_visa' }, { idempotencyKey: `pay-${tag}` }),
  );
  await timed(latency, () => stripe.invoices.list({ customer: customer.id, limit: 10 }));
  await timed(latency, () => stripe.customers.list({ limit: 10 }));
}

function sdkFor(url: string): Stripe {
  const base = new URL(url);
  return new Stripe('sk_test_bench', {
    host: base.hostname,
    port: Number(base.port),
    protocol: 'http',
    maxNetworkRetries: 0,
  });
}

let sdkCycles = 0;
const RUN = randomBytes(4).toString('hex');

/** `concurrency` loops of SDK calls in this process for `seconds`. */
function sdkLoad(target: Target, workload: Workload, seconds: number, concurrency: number) {
  const stripe = sdkFor(target.url);
  return async () => {
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | null = null;
    const latency = (ms: number): number => latencies.push(ms);
    const cpuBefore = process.cpuUsage();
    const deadline = Date.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < deadline) {
          try {
            if (workload === 'retrieve') {
              await timed(latency, () => stripe.customers.retrieve(target.customer));
            } else {
              await mixedCycle(stripe, `sdk-${RUN}-${(sdkCycles += 1)}`, latency);
            }
          } catch (e) {
            errors++;
            firstError ??= e instanceof Error ? e.message : String(e);
          }
        }
      }),
    );
    const cpu = process.cpuUsage(cpuBefore);
    return { latencies, errors, generatorCpu: (cpu.user + cpu.system) / 1e6, firstError };
  };
}

/** The lean generator processes, each given its share of the connections. */
class Generators {
  private constructor(private readonly workers: ChildProcess[]) {}

  static async start(count: number): Promise<Generators> {
    const file = path.join(__dirname, 'lib', 'emulator-load-worker.js');
    const workers = await Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<ChildProcess>((resolve, reject) => {
            const child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
            child.once('message', () => resolve(child));
            child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
          }),
      ),
    );
    return new Generators(workers);
  }

  get count(): number {
    return this.workers.length;
  }

  load(job: Omit<LoadJob, 'connections' | 'generator'>, concurrency: number) {
    return async () => {
      const results = await Promise.all(
        this.workers.map(
          (worker, generator) =>
            new Promise<LoadResult>((resolve) => {
              worker.once('message', (result: LoadResult) => resolve(result));
              const connections =
                Math.floor(concurrency / this.workers.length) + (generator < concurrency % this.workers.length ? 1 : 0);
              worker.send({ ...job, connections, generator } satisfies LoadJob);
            }),
        ),
      );
      return {
        latencies: results.flatMap((r) => r.latencies),
        errors: results.reduce((sum, r) => sum + r.errors, 0),
        generatorCpu: results.reduce((sum, r) => sum + r.cpuSeconds, 0),
        firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
      };
    };
  }

  stop(): void {
    for (const worker of this.workers) {
      worker.kill('SIGTERM');
    }
  }
}

/** Which profile the emulator runs (`GET /_emulator/locks`): ideal writes answer at once, realistic ones later. */
async function profileOf(url: string): Promise<string> {
  const res = await fetch(new URL('/_emulator/locks', url));
  const { modes } = (await res.json()) as { modes: { writeMs: number } };
  return modes.writeMs > 0
    ? `realistic profile (each write holds its objects' locks ${modes.writeMs} ms)`
    : 'ideal profile (writes answer at once)';
}

function choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const value = typeof flags[name] === 'string' ? (flags[name] as string) : fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    refuse(`--${name} must be ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

const fixed = (x: number | null, digits = 0): string => (x === null ? '–' : x.toFixed(digits));
const medianOf = (xs: Measured[], pick: (m: Measured) => number | null): number | null =>
  xs.length === 0 || xs.some((m) => pick(m) === null) ? null : median(xs.map((m) => pick(m) as number));

async function main(): Promise<void> {
  const seconds = number('seconds', smoke ? 1 : 5);
  const concurrency = number('concurrency', 32);
  const rounds = Math.max(1, number('rounds', smoke ? 1 : 3));
  const generatorCount = Math.max(1, number('generators', 2));
  const workloadFlag = choice('workload', ['both', 'retrieve', 'mixed'] as const, 'both');
  const workloads: Workload[] = workloadFlag === 'both' ? ['retrieve', 'mixed'] : [workloadFlag];
  const clientFlag = choice('client', ['both', 'lean', 'sdk'] as const, 'both');
  const clients: Client[] = clientFlag === 'both' ? ['lean', 'sdk'] : [clientFlag];
  const profile = choice('profile', ['ideal', 'realistic'] as const, 'ideal');
  const compare = typeof flags.compare === 'string' ? path.resolve(flags.compare) : null;
  const given = typeof flags.url === 'string' ? flags.url : null;
  const args = profile === 'realistic' ? ['--delivery', 'realistic', '--delivery-seed', '1'] : [];

  const targets: Target[] = [];
  const generators = clients.includes('lean') ? await Generators.start(generatorCount) : null;
  try {
    for (const [label, main] of given
      ? []
      : ([['this', undefined], ...(compare ? [['compare', compare]] : [])] as Array<[string, string | undefined]>)) {
      const spawned = await spawnEmulator(args, main);
      targets.push({ label, url: spawned.url, pid: spawned.child.pid ?? null, child: spawned.child, customer: '' });
    }
    if (given) {
      targets.push({ label: 'given', url: given, pid: null, child: null, customer: '' });
    }
    for (const target of targets) {
      target.customer = (await sdkFor(target.url).customers.create({ email: 'bench@example.com' })).id;
    }
    // The SDK's own requests, once, against a recording server: what the lean generators replay.
    const captured = await captureRequests(async (host, port) => {
      const stripe = new Stripe('sk_test_bench', { host, port, protocol: 'http', maxNetworkRetries: 0 });
      await stripe.customers.retrieve(MARKERS.customer);
      await mixedCycle(stripe, MARKERS.tag, () => undefined);
    });
    const cycles: Record<Workload, RequestTemplate[]> = { retrieve: captured.slice(0, 1), mixed: captured.slice(1) };

    const run = (target: Target, client: Client, workload: Workload, secs: number): Promise<Measured> =>
      measure(
        target,
        client === 'sdk' || !generators
          ? sdkLoad(target, workload, secs, concurrency)
          : generators.load(
              { url: target.url, cycle: cycles[workload], fixed: { customer: target.customer }, seconds: secs },
              concurrency,
            ),
      );

    const cores = os.availableParallelism();
    out(
      `local Stripe, ${concurrency} requests in flight, ${seconds} s per measurement, ${rounds} round(s), ` +
        `${await profileOf(targets[0].url)}; clients: ` +
        clients
          .map((c) =>
            c === 'lean'
              ? `lean = ${generatorCount} generator process(es) replaying the SDK's captured requests`
              : 'sdk = the stripe SDK in one process (as measured before)',
          )
          .join('; '),
    );
    out(
      `  machine: ${cores} cores; ` +
        (cores <= 2
          ? 'the load generators and the emulator share them (the emulator uses one thread)'
          : 'the emulator uses one thread of them') +
        `; load ${loadAverage()}`,
    );
    for (const target of targets) {
      for (const client of clients) {
        for (const workload of workloads) {
          await run(target, client, workload, Math.min(1, seconds)); // warm-up: connections and JIT
        }
      }
    }
    const results = new Map<string, Measured[]>();
    const key = (t: Target, c: Client, w: Workload): string => `${t.label}|${c}|${w}`;
    for (let round = 0; round < rounds; round += 1) {
      const flip = <T>(xs: T[]): T[] => (round % 2 === 0 ? xs : [...xs].reverse());
      for (const target of flip(targets)) {
        for (const workload of flip(workloads)) {
          for (const client of flip(clients)) {
            const m = await run(target, client, workload, seconds);
            results.set(key(target, client, workload), [...(results.get(key(target, client, workload)) ?? []), m]);
            out(
              `  round ${round + 1} ${target.label.padEnd(7)} ${client.padEnd(4)} ${workload.padEnd(8)} ` +
                `${String(m.requests).padStart(6)} requests → ${m.rps.toFixed(0).padStart(5)} req/s ` +
                `(p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, errors ${m.errors}` +
                `${m.firstError ? `: ${m.firstError}` : ''}); emulator ${fixed(m.emulatorUs)} µs CPU/request, ` +
                `busy ${fixed(m.emulatorBusy, 2)}; generator ${m.generatorUs.toFixed(0)} µs CPU/request  ` +
                `(load ${loadAverage()})`,
            );
          }
        }
      }
    }

    out('  medians:');
    out(
      `  ${'emulator'.padEnd(8)} ${'client'.padEnd(6)} ${'workload'.padEnd(8)} ${'req/s'.padStart(6)} ` +
        `${'emu µs CPU/req'.padStart(14)} ${'req/emu CPU-s'.padStart(13)} ${'emu busy'.padStart(8)} ` +
        `${'gen µs CPU/req'.padStart(14)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}`,
    );
    const med = (t: Target, c: Client, w: Workload) => {
      const xs = results.get(key(t, c, w)) ?? [];
      const us = medianOf(xs, (m) => m.emulatorUs);
      return {
        rps: medianOf(xs, (m) => m.rps) ?? 0,
        us,
        perCpu: us === null ? null : 1e6 / us,
        busy: medianOf(xs, (m) => m.emulatorBusy),
        gen: medianOf(xs, (m) => m.generatorUs),
        p50: medianOf(xs, (m) => m.p50),
        p99: medianOf(xs, (m) => m.p99),
      };
    };
    for (const target of targets) {
      for (const client of clients) {
        for (const workload of workloads) {
          const m = med(target, client, workload);
          out(
            `  ${target.label.padEnd(8)} ${client.padEnd(6)} ${workload.padEnd(8)} ${m.rps.toFixed(0).padStart(6)} ` +
              `${fixed(m.us).padStart(14)} ${fixed(m.perCpu).padStart(13)} ${fixed(m.busy, 2).padStart(8)} ` +
              `${fixed(m.gen).padStart(14)} ${fixed(m.p50, 2).padStart(7)} ${fixed(m.p99, 2).padStart(7)}`,
          );
        }
      }
    }
    const main = targets[0];
    const headline: Client = clients[0];
    if (workloads.includes('mixed')) {
      const m = med(main, headline, 'mixed');
      out(
        `  target ≥ ${TARGET}/s (mixed, ${headline} client, ${main.label} emulator): ${m.rps.toFixed(0)} req/s` +
          (smoke ? '' : `: ${m.rps >= TARGET ? 'MET' : 'NOT MET'}`) +
          (m.perCpu === null ? '' : `; one core of the emulator serves ${m.perCpu.toFixed(0)} req per CPU-second`),
      );
    }
    const rss = main.pid === null ? null : rssMb(main.pid);
    const cmp = targets.find((t) => t.label === 'compare');
    for (const workload of workloads) {
      const label =
        workload === 'retrieve' ? 'customers.retrieve' : 'mixed (create, retrieve, list, invoice finalize/pay)';
      const row = { bench: 'emulator', unit: 'requests/s', rssMb: rss };
      const lean = clients.includes('lean') ? med(main, 'lean', workload) : null;
      const sdk = clients.includes('sdk') ? med(main, 'sdk', workload) : null;
      for (const [client, m] of [
        ['lean', lean],
        ['sdk', sdk],
      ] as const) {
        if (!m) {
          continue;
        }
        const baseline = client === 'lean' ? sdk : null;
        emitRow(json, {
          ...row,
          path:
            `local Stripe: ${label}, ${client === 'lean' ? `${generatorCount} lean generator processes` : 'stripe SDK client'}, ` +
            `${concurrency} in flight`,
          figure: Math.round(m.rps),
          baseline: baseline ? 'the stripe SDK client, same run' : null,
          baselineFigure: baseline ? Math.round(baseline.rps) : null,
          ratio: baseline ? ratioOf(m.rps, baseline.rps) : null,
          target: workload === 'mixed' && client === headline ? `≥ ${TARGET}/s` : null,
        });
      }
      const cpu = lean ?? sdk;
      if (cpu?.perCpu) {
        const other = cmp ? med(cmp, headline, workload) : null;
        emitRow(json, {
          ...row,
          path: `local Stripe: ${label}, requests per CPU-second of the emulator (one core of it)`,
          figure: Math.round(cpu.perCpu),
          unit: 'requests/CPU-s',
          baseline: other?.perCpu ? `--compare ${compare}` : null,
          baselineFigure: other?.perCpu ? Math.round(other.perCpu) : null,
          ratio: other?.perCpu ? ratioOf(cpu.perCpu, other.perCpu) : null,
          target: null,
        });
      }
    }
    const errors = [...results.values()].flat().reduce((sum, m) => sum + m.errors, 0);
    if (errors > 0) {
      process.stderr.write(`${errors} requests failed\n`);
      process.exitCode = 1;
    }
  } finally {
    generators?.stop();
    for (const target of targets) {
      target.child?.kill('SIGTERM');
    }
  }
}

runBench(main);
