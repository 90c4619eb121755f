import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The project root. */
export const ROOT = path.resolve(__dirname, '../..');

/**
 * Where the suite compiles the project for tests that spawn it (the server, the CLI). Its own folder rather than
 * `dist/`, so a developer's `npm start` and the suite never write over each other's build.
 */
export const BUILD_DIR = path.join(ROOT, '.test-build');

/** A compiled entry point, e.g. `built('src/cli/billing.js')`. */
export function built(relative: string): string {
  return path.join(BUILD_DIR, relative);
}

/**
 * Compiles the project once for the whole run (jest globalSetup of the e2e project), with the script `npm start` uses:
 * skipped when the sources are unchanged since the last build there, incremental otherwise. A compile error throws,
 * which fails the run instead of testing a stale build.
 */
export function buildOnce(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-server.mjs'), '--out', BUILD_DIR], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** Where the suite builds the dashboard and the explorer (DASHBOARD_DIR of the browser tests' servers). */
export const DASHBOARD_BUILD_DIR = path.join(BUILD_DIR, 'dashboard');

/**
 * Builds the dashboard once for the run (jest globalSetup of the e2e project), into the suite's own folder. Skipped
 * by the build script itself when dashboard/ and the lock file are unchanged since its last build there.
 */
export function buildDashboardOnce(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-dashboard.mjs'), '--out', DASHBOARD_BUILD_DIR], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
