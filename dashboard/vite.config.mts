import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * Two pages from one build: the dashboard (`index.html`, served at `/`) and the GraphiQL explorer (`explorer.html`,
 * served at `/graphql` to browsers). Everything, fonts and Monaco's workers included, lands in the output folder:
 * the server must work with no network. `scripts/build-dashboard.mjs` runs this build only when its inputs changed.
 */
export default defineConfig({
  root,
  base: '/',
  // JSX through Vite's own transform (no React plugin: the build needs no Fast Refresh).
  oxc: { jsx: { runtime: 'automatic' } },
  logLevel: 'warn',
  build: {
    outDir: path.join(root, '../dist/dashboard'),
    emptyOutDir: true,
    // Read by scripts/build-dashboard.mjs to print what each page loads.
    manifest: true,
    // GraphiQL's Monaco editor is one large chunk by nature; it loads only on the explorer's page.
    chunkSizeWarningLimit: 6000,
    rollupOptions: {
      input: { index: path.join(root, 'index.html'), explorer: path.join(root, 'explorer.html') },
      // React Server Components' "use client" markers in GraphiQL's dependencies mean nothing in a browser bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') {
          warn(warning);
        }
      },
    },
  },
  worker: { format: 'es' },
});
