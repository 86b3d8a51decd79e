/**
 * Build of the LineSight dashboard: `npm run build` (= `vite build web`) writes static assets to
 * web/dist, which src/serving/routes/dashboard.ts serves at `/`. `npx vite web` runs a dev server
 * that proxies the API to a LineSight server on LINESIGHT_URL (default http://127.0.0.1:8080).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const api = process.env.LINESIGHT_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  // not import.meta.dirname: that needs Node 20.11, the project supports every Node 20
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // uPlot is the only dependency; one small bundle keeps the first paint on a shop-floor PC fast.
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      '/v1': { target: api, changeOrigin: true },
      '/v2': { target: api, changeOrigin: true },
      '/metrics': { target: api, changeOrigin: true },
    },
  },
});
