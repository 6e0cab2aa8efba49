import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// One root config, a project per package (vitest 4 has no workspace file).
// Unit tests sit beside the code; test/ holds the cross-package end-to-end suites.
// expect.poll waits for a condition, never for a duration: its own cap is as long as a test may take (CI is a
// loaded 2-core machine; the default 1 s cap turned slow-but-correct runs into failures).
const common = { testTimeout: 30_000, hookTimeout: 60_000, expect: { poll: { timeout: 25_000, interval: 20 } } };
// End-to-end tests start real daemons, editors and browsers: seconds alone, several times that when the whole suite
// shares 2 cores. Their bound is wider; a hang still fails.
const e2e = { ...common, testTimeout: 90_000 };

export default defineConfig({
  // Tests run the TypeScript sources of sibling packages, not their build output.
  resolve: {
    alias: {
      '@shadowbox/protocol': here('./protocol/src/index.ts'),
      '@shadowbox/client/acp': here('./clients/editor/src/acp/index.ts'),
      '@shadowbox/client': here('./clients/editor/src/index.ts'),
    },
  },
  test: {
    // Compiles the modules that run outside vitest: the WASI sandbox worker (worker thread), the grep worker
    // and the bundled CLI that end-to-end tests start (each rebuilt from the current sources).
    globalSetup: ['./scripts/vitest-wasi-worker.mjs', './scripts/vitest-bundle.mjs'],
    projects: [
      { test: { ...common, name: 'protocol', include: ['protocol/src/**/*.test.ts'] } },
      { test: { ...common, name: 'daemon', include: ['daemon/src/**/*.test.ts'] } },
      {
        test: { ...common, name: 'clients', include: ['clients/*/src/**/*.test.ts', 'clients/web/node/**/*.test.ts'] },
      },
      { test: { ...e2e, name: 'e2e', include: ['test/**/*.test.ts'], exclude: ['test/browser/**'] } },
      { test: { ...e2e, name: 'browser', include: ['test/browser/**/*.test.ts'], fileParallelism: false } },
      { test: { ...common, name: 'bench-scripts', include: ['bench/**/*.test.ts', 'bench/**/*.test.mjs'] } },
    ],
  },
});
