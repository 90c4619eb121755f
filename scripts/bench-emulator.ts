/**
 * Requests per second the local Stripe emulator serves through the real SDK.
 *
 *   npm run bench:emulator -- [--url http://127.0.0.1:12111] [--seconds 5] [--concurrency 32]
 *
 * Without --url it starts the emulator (dist/emulator/main.js) in a child process, so client and server
 * each get a core.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import Stripe from 'stripe';
import { numberFlag, parseCommandLine } from '../src/cli/args';

const { flags } = parseCommandLine(process.argv.slice(2), {
  url: { type: 'string', value: 'URL', description: 'a running emulator (default: start one)' },
  seconds: { type: 'string', value: 'N', description: 'how long to measure (default 5)' },
  concurrency: { type: 'string', value: 'N', description: 'requests in flight (default 32)' },
});

async function spawnEmulator(): Promise<{ url: string; child: ChildProcess }> {
  const main = path.join(__dirname, '..', 'emulator', 'main.js');
  const child = fork(main, ['--port', '0'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { url, child };
}

async function main(): Promise<void> {
  const seconds = numberFlag(flags, 'seconds', 5);
  const concurrency = numberFlag(flags, 'concurrency', 32);
  const given = typeof flags.url === 'string' ? flags.url : null;
  const spawned = given ? null : await spawnEmulator();
  const base = new URL(given ?? spawned?.url ?? '');
  const stripe = new Stripe('sk_test_bench', {
    host: base.hostname,
    port: Number(base.port),
    protocol: 'http',
    maxNetworkRetries: 0,
  });
  try {
    const customer = await stripe.customers.create({ email: 'bench@example.com' });
    // Warm up connections and JIT.
    await Promise.all(Array.from({ length: concurrency }, () => stripe.customers.retrieve(customer.id)));
    const latencies: number[] = [];
    let errors = 0;
    const deadline = Date.now() + seconds * 1000;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < deadline) {
          const t0 = process.hrtime.bigint();
          try {
            await stripe.customers.retrieve(customer.id);
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          } catch {
            errors++;
          }
        }
      }),
    );
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
    const rps = latencies.length / elapsed;
    process.stdout.write(
      `customers.retrieve over the stripe SDK: ${latencies.length} requests in ${elapsed.toFixed(2)} s, ` +
        `concurrency ${concurrency} → ${rps.toFixed(0)} req/s (p50 ${pct(50).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms, errors ${errors})\n`,
    );
    if (rps < 1000) {
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
