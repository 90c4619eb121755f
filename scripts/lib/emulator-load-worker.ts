/**
 * One load-generator process of bench-emulator.ts (forked by it): `connections` keep-alive connections, each replaying
 * the SDK's captured requests (stripe-requests.ts) in order, as fast as answers come, until the deadline. It sends its
 * counts, latencies and own CPU time back over IPC, one job after another.
 */
import { randomBytes } from 'node:crypto';
import { compile, fill, LeanConnection, MARKERS, type MarkerValues, type RequestTemplate } from './stripe-requests';

export interface LoadJob {
  url: string;
  /** One cycle of requests, replayed in order (`customers.retrieve` alone, or the mixed cycle). */
  cycle: RequestTemplate[];
  /** Marker values fixed for the whole run (the customer a retrieve-only cycle reads). */
  fixed: Partial<MarkerValues>;
  connections: number;
  seconds: number;
  /** This generator's number, part of every cycle's tag (unique emails and idempotency keys across generators). */
  generator: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** Latency of every answered request, ms. */
  latencies: number[];
  /** This process's CPU time while it ran, s. */
  cpuSeconds: number;
  /** First failure, for the report. */
  firstError: string | null;
}

/** The id in a create's answer: what the rest of the cycle is about. */
const CREATES: Record<string, keyof MarkerValues> = {
  'POST /v1/customers': 'customer',
  'POST /v1/invoices': 'invoice',
};

/** Cycles so far in this process, and a prefix of its own: every cycle's tag is new, across jobs and runs. */
let cycles = 0;
const RUN = randomBytes(4).toString('hex');

async function run(job: LoadJob): Promise<LoadResult> {
  const target = new URL(job.url);
  const requests = job.cycle.map((t) => ({
    compiled: compile(t, target.host),
    creates: CREATES[`${t.method} ${t.path}`] as keyof MarkerValues | undefined,
  }));
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const cpuBefore = process.cpuUsage();
  const deadline = Date.now() + job.seconds * 1000;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      const connection = new LeanConnection(target.hostname, Number(target.port));
      try {
        while (Date.now() < deadline) {
          const values: MarkerValues = {
            customer: MARKERS.customer,
            invoice: MARKERS.invoice,
            ...job.fixed,
            tag: `${RUN}-g${job.generator}-${(cycles += 1)}`,
          };
          for (const request of requests) {
            const t0 = process.hrtime.bigint();
            const answer = await connection.send(fill(request.compiled, values), request.creates !== undefined);
            if (answer.status !== 200) {
              // Counted as the SDK counts it: a failed call, not a served request; the cycle stops there.
              errors++;
              firstError ??= `HTTP ${answer.status}`;
              break;
            }
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            if (request.creates) {
              values[request.creates] = (JSON.parse(answer.body ?? '{}') as { id: string }).id;
            }
          }
        }
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
      } finally {
        connection.close();
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return { requests: latencies.length, errors, latencies, cpuSeconds: (cpu.user + cpu.system) / 1e6, firstError };
}

// One job per message, answered with its result; the parent ends the process when the benchmark is done.
process.on('message', (job: LoadJob) => {
  void run(job).then((result) => process.send?.(result));
});
process.send?.('ready');
