import { defineConfig } from 'vite';

// The page is served by the daemon from dist/ (same origin as /rpc); no CDN, no inline script.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
