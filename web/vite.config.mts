import path from 'node:path';
import { defineConfig } from 'vite';

const here = import.meta.dirname;

// The web console (SPEC §10). `npm run console:build` runs this from the repository root; the
// API process serves web/dist (src/api/console.ts). No React plugin: Vite 8 compiles JSX itself,
// and a production build has no use for fast refresh.
export default defineConfig({
  root: here,
  base: '/',
  publicDir: path.join(here, 'public'),
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.join(here, 'dist'),
    emptyOutDir: true,
    // Nothing inline: the CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    rolldownOptions: {
      onwarn(warning, warn) {
        // TanStack Query marks its hooks "use client" for React Server Components; a client-only
        // bundle has nothing to preserve.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: { proxy: { '/api': 'http://localhost:3005' } },
});
