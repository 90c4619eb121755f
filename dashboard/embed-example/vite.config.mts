import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * The embedding example on its own (not part of the dashboard's build): `vite build --config
 * dashboard/embed-example/vite.config.mts --outDir <dir>`, as tests/browser/embed.test.ts does. Relative asset paths,
 * so the page works under whatever path the host serves it.
 */
export default defineConfig({
  root,
  base: './',
  oxc: { jsx: { runtime: 'automatic' } },
  logLevel: 'warn',
  build: { emptyOutDir: true },
});
