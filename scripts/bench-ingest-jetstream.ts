/**
 * Usage intake through NATS JetStream (`USAGE_INGEST=jetstream`) against the direct path, in the same run: the same
 * batches POSTed to `/api/v1/usage` of server instances each in its own process (load generated here, in another),
 * first with `USAGE_INGEST=direct` (answered once written: accepted = stored), then with `jetstream` (answered on
 * the publish acks). Figures: events/s accepted, and for JetStream also events/s stored end to end (first request
 * to the last event in `usage_records`, counted by polling the database). Rounds alternate the two modes; each
 * figure is the median round. Prints figures, ratios and the machine's load (`uptime`) around the run.
 *
 *   npm run bench:ingest-jetstream -- [--batches 20] [--batch-size 5000] [--instances 2] [--concurrency 4]
 *                                     [--rounds 3] [--smoke] [--json]
 *
 * Uses a fresh database on BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and NATS at
 * BENCH_NATS_URL (default nats://127.0.0.1:4222), a stream of its own; both dropped after.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { migrate, openDatabase } from '../src/entities/orm';
import { createServer } from '../src/server';
import { mintToken } from '../src/services/customers/auth.service';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { benchCommandLine, benchServerUrl, runBench, withScratchDatabase } from './lib/bench-util';

const BENCH = 'ingest-jetstream';

/** A server instance, run by the parent as a child process: `--serve` with its environment in BENCH_SERVER_ENV. */
async function serve(): Promise<void> {
  const env = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>;
  const config = loadConfig(env);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, poolMax: config.databasePoolMax });
  const server = await createServer({ config, db });
  const url = await server.listen(0, '127.0.0.1');
  process.send?.({ url });
  process.on('message', (message: { stop?: boolean }) => {
    if (message.stop) {
      const rssMb = process.memoryUsage().rss / 1024 / 1024;
      void server
        .close()
        .then(() => db.close())
        .then(() => process.send?.({ stopped: true, rssMb }, () => process.exit(0)));
    }
  });
}

async function main(): Promise<void> {
  const ABOUT =
    'Usage intake through NATS JetStream against the direct path, in the same run: events/s accepted and stored.';
  const { flags, number } = benchCommandLine('npm run bench:ingest-jetstream', ABOUT, {
    batches: { type: 'string', value: 'N', description: 'batches per round (default 20)' },
    'batch-size': { type: 'string', value: 'N', description: 'events per batch (default 5000)' },
    instances: { type: 'string', value: 'N', description: 'server processes per mode (default 2)' },
    concurrency: { type: 'string', value: 'N', description: 'requests in flight (default 4)' },
    rounds: { type: 'string', value: 'N', description: 'alternating rounds; figures are medians (default 3)' },
    smoke: { type: 'boolean', description: 'a short run for CI (no thresholds)' },
    json: { type: 'boolean', description: 'also print one BENCH_ROW line per figure' },
  });
  const smoke = flags.smoke === true;
  const arg = (name: string, fallback: number, smokeValue: number): number =>
    number(name, smoke ? smokeValue : fallback);
  const batches = arg('batches', 20, 4);
  const batchSize = arg('batch-size', 5_000, 500);
  const instances = arg('instances', 2, 2);
  const concurrency = arg('concurrency', 4, 2);
  const rounds = arg('rounds', 3, 1);
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);

  const natsUrl = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
  const id = randomBytes(4).toString('hex');
  await withScratchDatabase(benchServerUrl(), `billing_bench_${id}`, async (url) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
    const secret = randomUUID() + randomUUID();
    const stream = `BENCH_USAGE_${id}`;
    const db = await openDatabase({ databaseUrl: url, poolMax: 2 });
    const children: ChildProcess[] = [];
    try {
      await migrate(db.orm);
      await seedDefaultCatalogue(db.orm.em.fork());
      const token = await mintToken(secret, { sub: 'bench', role: Role.SERVICE });
      const baseEnv = {
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        JWT_SECRET: secret,
        DATA_DIR: dataDir,
        DATABASE_URL: url,
        STRIPE_SECRET_KEY: 'sk_test_bench_no_stripe_calls',
        STRIPE_API_BASE: 'http://127.0.0.1:9',
        DUNNING_INTERVAL_SECONDS: '0',
        NATS_URL: natsUrl,
        USAGE_JETSTREAM_STREAM: stream,
        USAGE_JETSTREAM_SUBJECT: `bench.usage.${id}`,
        USAGE_JETSTREAM_CONSUMER: `bench-writer-${id}`,
      };
      const start = async (mode: 'direct' | 'jetstream'): Promise<ChildProcess & { url: string }> => {
        const child = fork(__filename, ['--serve'], {
          env: { ...process.env, BENCH_SERVER_ENV: JSON.stringify({ ...baseEnv, USAGE_INGEST: mode }) },
        });
        children.push(child);
        const started = await new Promise<string>((resolve, reject) => {
          child.once('message', (m: { url: string }) => resolve(m.url));
          child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
        });
        return Object.assign(child, { url: started });
      };
      const stop = (child: ChildProcess): Promise<number> =>
        new Promise((resolve) => {
          child.on('message', (m: { stopped?: boolean; rssMb?: number }) => m.stopped && resolve(m.rssMb ?? 0));
          child.send({ stop: true });
        });
      const stored = async (): Promise<number> => {
        const [row] = await db.orm.em
          .fork()
          .execute<Array<{ n: number }>>('select count(*)::int as n from usage_records');
        return Number(row.n);
      };

      let round = 0;
      const runRound = async (mode: 'direct' | 'jetstream') => {
        round += 1;
        const servers = await Promise.all(Array.from({ length: instances }, () => start(mode)));
        const before = await stored();
        const total = batches * batchSize;
        const bodies = Array.from({ length: batches }, (_, b) =>
          Array.from({ length: batchSize }, (_, i) => ({
            userId: `bench-user-${i % 100}`,
            metric: i % 2 ? 'llm_input_tokens' : 'llm_output_tokens',
            quantity: String(100 + (i % 900)),
            occurredAt: new Date(Date.UTC(2024, 0, 1 + (i % 28), i % 24)).toISOString(),
            idempotencyKey: `${mode}-${round}-${b}-${i}`,
          })),
        );
        const t0 = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async (_, worker) => {
            for (let b = next++; b < batches; b = next++) {
              const target = servers[(b + worker) % servers.length].url;
              const res = await fetch(`${target}/api/v1/usage`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
                body: JSON.stringify(bodies[b]),
              });
              const body = (await res.json()) as { accepted?: number };
              if (res.status !== 200 || body.accepted !== batchSize) {
                throw new Error(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
              }
            }
          }),
        );
        const acceptedS = (performance.now() - t0) / 1000;
        // End to end: until the last event is in usage_records (the direct path is there already).
        while ((await stored()) - before < total) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const storedS = (performance.now() - t0) / 1000;
        const rss = await Promise.all(servers.map(stop));
        return { accepted: total / acceptedS, stored: total / storedS, rssMb: Math.max(...rss) };
      };

      const load = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();
      out(
        `${BENCH}: ${rounds} round(s) of ${batches} × ${batchSize} events, ${instances} instance(s), ${concurrency} in flight`,
      );
      out(`  load before: ${load()}`);
      const results: Record<'direct' | 'jetstream', Array<{ accepted: number; stored: number; rssMb: number }>> = {
        direct: [],
        jetstream: [],
      };
      for (let r = 0; r < rounds; r += 1) {
        for (const mode of r % 2 === 0 ? (['direct', 'jetstream'] as const) : (['jetstream', 'direct'] as const)) {
          results[mode].push(await runRound(mode));
        }
      }
      out(`  load after:  ${load()}`);
      const median = (values: number[]): number => {
        const sorted = [...values].sort((a, b) => a - b);
        return sorted[Math.floor(sorted.length / 2)];
      };
      const direct = median(results.direct.map((r) => r.accepted));
      const rows = [
        { path: 'direct: accepted = stored (POST /api/v1/usage)', figure: direct, baseline: null, rss: results.direct },
        {
          path: 'jetstream: accepted (publish acks)',
          figure: median(results.jetstream.map((r) => r.accepted)),
          baseline: 'direct',
          rss: results.jetstream,
        },
        {
          path: 'jetstream: stored end to end',
          figure: median(results.jetstream.map((r) => r.stored)),
          baseline: 'direct',
          rss: results.jetstream,
        },
      ];
      for (const row of rows) {
        const ratio = row.baseline ? row.figure / direct : null;
        const rssMb = Math.round(median(row.rss.map((r) => r.rssMb)));
        out(
          `  ${row.path.padEnd(48)} ${Math.round(row.figure).toLocaleString('en-US').padStart(9)} events/s` +
            (ratio === null ? '' : `  ${ratio.toFixed(2)}× direct`) +
            `  (server RSS ${rssMb} MB)`,
        );
        if (flags.json === true) {
          out(
            `BENCH_ROW ${JSON.stringify({
              bench: BENCH,
              path: row.path,
              figure: Math.round(row.figure),
              unit: 'events/s',
              baseline: row.baseline,
              baselineFigure: row.baseline ? Math.round(direct) : null,
              ratio: ratio === null ? null : Number(ratio.toFixed(2)),
              target: null,
              rssMb,
            })}`,
          );
        }
      }
    } finally {
      for (const child of children) {
        if (child.exitCode === null) {
          child.kill();
        }
      }
      await db.close();
      const nc = await connect({ servers: natsUrl });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
      await nc.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

if (process.argv.includes('--serve')) {
  void serve();
} else {
  runBench(main);
}
