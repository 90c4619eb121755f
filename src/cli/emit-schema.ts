import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { printSchema } from 'graphql';
import { buildAppSchema } from '../resolvers';

/** Writes the schema built from code to `src/schema/schema.graphql` (committed; a test fails when stale). */
export const SCHEMA_FILE = path.resolve('src/schema/schema.graphql');

buildAppSchema().then(
  (schema) => {
    writeFileSync(SCHEMA_FILE, `${printSchema(schema)}\n`);
    process.stdout.write(`Wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
  },
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
