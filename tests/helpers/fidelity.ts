import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import standaloneCode from 'ajv/dist/standalone';
import { readSchemaFile, schemaAjv, validatorNames } from '../../emulator/fidelity/guard';
import { ROOT } from './build';

/** The precompiled validators a test run shares (the guard compiles the schemas itself without them). */
export const VALIDATORS_ENV = 'STRIPE_FIDELITY_VALIDATORS';
/** Where each test file adds how many exchanges the guard checked; summed at the end of the run. */
export const STATS_ENV = 'STRIPE_FIDELITY_STATS';

/**
 * Compiles the guard's schemas once into a standalone module (Ajv's own code generation), kept under
 * node_modules/.cache and named by the schemas' and Ajv's hash: a run after the first only loads it. Compiling in
 * every test file would cost each a few seconds.
 */
export function precompileValidators(): string {
  const text = readFileSync(path.join(ROOT, 'emulator/fidelity/stripe-schemas.json'), 'utf8');
  const ajvVersion = (
    JSON.parse(readFileSync(path.join(ROOT, 'node_modules/ajv/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const hash = createHash('sha256').update(text).update(ajvVersion).digest('hex').slice(0, 16);
  const dir = path.join(ROOT, 'node_modules/.cache/stripe-fidelity');
  const file = path.join(dir, `validators-${hash}.js`);
  if (!existsSync(file)) {
    const schemas = readSchemaFile();
    const ajv = schemaAjv(schemas, { source: true });
    const refs = Object.fromEntries(validatorNames(schemas).map((name) => [name, `stripe#/definitions/${name}`]));
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, standaloneCode(ajv, refs));
    renameSync(tmp, file);
  }
  return file;
}

export interface FidelityStats {
  file: string;
  responses: number;
  events: number;
  violations: number;
  /** What the local Stripes' webhook dispatchers sent (`deliveryCounts`). */
  webhooks: { events: number; deliveries: number; duplicates: number; outOfOrder: number };
}

export function newStatsFile(): string {
  return path.join(tmpdir(), `stripe-fidelity-${process.pid}-${Date.now()}.jsonl`);
}

export function addStats(stats: FidelityStats): void {
  const file = process.env[STATS_ENV];
  if (file) {
    appendFileSync(file, `${JSON.stringify(stats)}\n`);
  }
}

/** The run's totals, read once (the file is removed): null when nothing was recorded. */
export function takeStats(file: string | undefined): FidelityStats | null {
  if (!file || !existsSync(file)) {
    return null;
  }
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  rmSync(file, { force: true });
  const rows = lines.map((l) => JSON.parse(l) as FidelityStats);
  return rows.reduce(
    (sum, r) => ({
      file: `${rows.filter((x) => x.responses + x.events > 0).length} test files`,
      responses: sum.responses + r.responses,
      events: sum.events + r.events,
      violations: sum.violations + r.violations,
      webhooks: {
        events: sum.webhooks.events + r.webhooks.events,
        deliveries: sum.webhooks.deliveries + r.webhooks.deliveries,
        duplicates: sum.webhooks.duplicates + r.webhooks.duplicates,
        outOfOrder: sum.webhooks.outOfOrder + r.webhooks.outOfOrder,
      },
    }),
    {
      file: '',
      responses: 0,
      events: 0,
      violations: 0,
      webhooks: { events: 0, deliveries: 0, duplicates: 0, outOfOrder: 0 },
    },
  );
}
