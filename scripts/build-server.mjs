#!/usr/bin/env node
// Compiles the server, the local Stripe and the scripts (tsconfig.build.json) into dist/ (or `--out <dir>`: the test
// suite's .test-build), only when something they are
// built from changed since the last build: a hash of the TypeScript sources, the tsconfig files and package-lock.json
// is kept in the output folder (.build-hash). An unchanged tree costs the hash (tens of milliseconds) instead of tsc's start and
// incremental check (seconds), so `npm run token` answers at once and `npm start` serves within seconds.
// Progress goes to stderr, so a command's own output (a token) stays alone on stdout; `--quiet` says nothing when the
// build is up to date.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const outFlag = process.argv.indexOf('--out');
const outDir = path.resolve(root, outFlag > 0 ? process.argv[outFlag + 1] : 'dist');
const stampFile = path.join(outDir, '.build-hash');
const started = Date.now();

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      return entry.name === 'node_modules' ? [] : sources(full);
    }
    return /\.(ts|json|graphql)$/.test(entry.name) ? [full] : [];
  });
}

const inputs = [
  ...sources(path.join(root, 'src')),
  ...sources(path.join(root, 'emulator')),
  ...sources(path.join(root, 'scripts')),
  ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((file) => path.join(root, file)),
].sort();
const hash = createHash('sha256');
for (const file of inputs) {
  hash.update(path.relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
}
hash.update(outDir);
const digest = hash.digest('hex');
const seconds = () => ((Date.now() - started) / 1000).toFixed(2);

if (existsSync(path.join(outDir, 'src/main.js')) && existsSync(stampFile)) {
  if (readFileSync(stampFile, 'utf8').trim() === digest) {
    if (!quiet) {
      process.stderr.write(`server build up to date (checked in ${seconds()} s)\n`);
    }
    process.exit(0);
  }
}

process.stderr.write(`compiling the server into ${path.relative(root, outDir)} (tsc -p tsconfig.build.json)…\n`);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const args = ['-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir];
const result = spawnSync(process.execPath, [tsc, ...args, '--tsBuildInfoFile', path.join(outDir, '.tsbuildinfo')], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  process.exit(result.status ?? 1);
}
writeFileSync(stampFile, `${digest}\n`);
process.stderr.write(`server compiled in ${seconds()} s\n`);
