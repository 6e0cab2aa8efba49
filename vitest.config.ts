import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// One root config, a project per package (vitest 4 has no workspace file).
// Unit tests sit beside the code; test/ holds the cross-package end-to-end suites.
// expect.poll waits for a condition, never for a duration: its own cap is as long as a test may take (CI is a
// loaded 2-core machine; the default 1 s cap turned slow-but-correct runs into failures).
const common = { testTimeout: 30_000, hookTimeout: 60_000, expect: { poll: { timeout: 25_000, interval: 20 } } };

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
    // Compiles the WASI sandbox worker (it runs as a module in a worker thread, outside vitest).
    globalSetup: ['./scripts/vitest-wasi-worker.mjs'],
    projects: [
      { test: { ...common, name: 'protocol', include: ['protocol/src/**/*.test.ts'] } },
      { test: { ...common, name: 'daemon', include: ['daemon/src/**/*.test.ts'] } },
      {
        test: { ...common, name: 'clients', include: ['clients/*/src/**/*.test.ts', 'clients/web/node/**/*.test.ts'] },
      },
      { test: { ...common, name: 'e2e', include: ['test/**/*.test.ts'], exclude: ['test/browser/**'] } },
      { test: { ...common, name: 'browser', include: ['test/browser/**/*.test.ts'], fileParallelism: false } },
      { test: { ...common, name: 'bench-scripts', include: ['bench/**/*.test.ts', 'bench/**/*.test.mjs'] } },
    ],
  },
});
