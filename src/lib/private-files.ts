import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import type { WriteFileOptions } from 'node:fs';
import path from 'node:path';

/**
 * The data folder holds the billing database, the development secrets and the local Stripe's state: only the user
 * running the server may read or change it, whatever the umask (a permissive one, e.g. 0, would otherwise make the
 * database world-writable). A creation mode is masked by the umask but never widened by it, so the modes below are
 * what results or narrower; `chmod` then fixes what an earlier version (or another program) left wider.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) as 0700, and makes it 0700 if it already existed wider. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(dir, PRIVATE_DIR_MODE);
}

/** Writes `file` as 0600 (also when it already existed with a wider mode). */
export function writePrivateFile(file: string, data: string, options: { flag?: string } = {}): void {
  const writeOptions: WriteFileOptions = { mode: PRIVATE_FILE_MODE, ...(options.flag ? { flag: options.flag } : {}) };
  writeFileSync(file, data, writeOptions);
  chmodSync(file, PRIVATE_FILE_MODE);
}

/** Makes every folder under `dir` (itself included) 0700 and every file 0600: for trees another library wrote. */
export function makeTreePrivate(dir: string): void {
  chmodSync(dir, PRIVATE_DIR_MODE);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      makeTreePrivate(child);
    } else if (entry.isFile()) {
      chmodSync(child, PRIVATE_FILE_MODE);
    }
  }
}
