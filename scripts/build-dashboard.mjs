#!/usr/bin/env node
// Builds the dashboard and the GraphQL explorer (dashboard/, Vite) into DASHBOARD_DIR's default, dist/dashboard, or
// into `--out <dir>` (the test suite's .test-build/dashboard). Skipped when nothing it is built from changed since
// the last build there: a hash of dashboard/'s files and package-lock.json is kept beside the output, so `npm start`
// pays for Vite only after a change (docs/dashboard.md has the figures).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outFlag = process.argv.indexOf('--out');
const outDir = path.resolve(root, outFlag > 0 ? process.argv[outFlag + 1] : 'dist/dashboard');
const stampFile = path.join(outDir, '.build-hash');

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? files(full) : [full];
  });
}

const started = Date.now();
const hash = createHash('sha256');
for (const file of [...files(path.join(root, 'dashboard')), path.join(root, 'package-lock.json')].sort()) {
  hash.update(path.relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
}
hash.update(outDir);
const digest = hash.digest('hex');

const built = ['index.html', 'explorer.html'].every((page) => existsSync(path.join(outDir, page)));
if (built && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === digest) {
  process.stderr.write(`dashboard build up to date (checked in ${((Date.now() - started) / 1000).toFixed(2)} s)\n`);
  process.exit(0);
}

process.stderr.write('building the dashboard (Vite)…\n');
const { build } = await import('vite');
await build({ configFile: path.join(root, 'dashboard/vite.config.mts'), build: { outDir } });
writeFileSync(stampFile, `${digest}\n`);
process.stdout.write(bundleSizes(outDir));
process.stdout.write(
  `dashboard built into ${path.relative(root, outDir)} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);

/**
 * What each page loads before it runs (its entry, the chunks it imports and its CSS), and what the dashboard loads
 * only on demand (a lazy view and what it alone imports), from Vite's manifest: raw and gzipped kilobytes.
 */
function bundleSizes(dir) {
  const manifest = JSON.parse(readFileSync(path.join(dir, '.vite/manifest.json'), 'utf8'));
  const size = (file) => {
    const bytes = readFileSync(path.join(dir, file));
    return { raw: statSync(path.join(dir, file)).size, gzip: gzipSync(bytes).length };
  };
  const kb = ({ raw, gzip }) => `${(raw / 1024).toFixed(0)} KB (${(gzip / 1024).toFixed(0)} KB gzipped)`;
  const total = (files) =>
    [...files].map(size).reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip }), { raw: 0, gzip: 0 });
  // The files a chunk needs before it runs: itself, its static imports (recursively) and their CSS.
  const closure = (key, seen = new Set()) => {
    const chunk = manifest[key];
    if (!seen.has(chunk.file)) {
      seen.add(chunk.file);
      (chunk.css ?? []).forEach((css) => seen.add(css));
      (chunk.imports ?? []).forEach((imported) => closure(imported, seen));
    }
    return seen;
  };
  const lines = ['bundle sizes (what a page loads before it runs):'];
  const initial = {};
  for (const page of ['index.html', 'explorer.html']) {
    initial[page] = closure(page);
    lines.push(`  ${page.padEnd(14)} ${kb(total(initial[page]))}`);
  }
  const lazy = manifest['index.html'].dynamicImports ?? [];
  if (lazy.length > 0) {
    lines.push('  loaded by the dashboard on demand:');
    for (const key of lazy) {
      const own = [...closure(key)].filter((file) => !initial['index.html'].has(file));
      lines.push(`    ${path.basename(key).padEnd(22)} ${kb(total(own))}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
