import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

// The console builds into dist/console/web, beside the compiled server module that serves it. `npm run dev:console`
// is not needed: the gateway serves the build, and `vite --config src/console/web/vite.config.ts` proxies the API.
export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [react()],
  build: {
    outDir: here('../../../dist/console/web'),
    emptyOutDir: true,
    // h3-js carries the H3 C library compiled to JavaScript; one chunk of it is expected.
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: { proxy: { '/v1': 'http://127.0.0.1:8080', '/readyz': 'http://127.0.0.1:8080' } },
});
