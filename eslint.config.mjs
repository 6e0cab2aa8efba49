// Lint for the whole repository: typescript-eslint's type-aware rules on every TypeScript file, and the
// architecture as rules — no import cycles, protocol/ imports nothing of ours, clients never import the
// daemon, and a daemon capability folder is entered only through its index.ts.
import js from '@eslint/js';
import { readdirSync } from 'node:fs';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

// Each daemon capability folder; another capability (or the daemon's root files) may import only its index.ts.
const capabilities = readdirSync(new URL('./daemon/src', import.meta.url), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);
const entryOnlyThroughIndex = capabilities.map((name) => ({
  target: ['./daemon/src/*.ts', ...capabilities.filter((c) => c !== name).map((c) => `./daemon/src/${c}/**`)],
  from: `./daemon/src/${name}`,
  except: ['./index.ts'],
  message: `enter daemon/src/${name}/ through its index.ts`,
}));

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/dist-node/**',
      'bundles/out/**',
      'bundles/.cache/**',
      'test-results/**',
      'bench/results/**',
      '.tmp/**',
      'daemon/src/wasi/fixtures/out/**',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.mjs', '**/*.js', 'bench/lib/*.cjs', 'daemon/bin/*.cjs'],
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        WebAssembly: 'readonly',
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }] },
  },
  {
    // The bin is CommonJS (daemon/bin/package.json): no ES module loader before the bundle; so are its install step and the bench's
    // bare Node clients (bench/lib/*.cjs), floors of CLI rows.
    files: ['daemon/bin/*.js', 'daemon/bin/*.cjs', 'bench/lib/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', __dirname: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: [
          './protocol/tsconfig.json',
          './clients/editor/tsconfig.json',
          './clients/terminal/tsconfig.json',
          './clients/web/tsconfig.json',
          './clients/web/tsconfig.node.json',
          './daemon/tsconfig.json',
          './tsconfig.tests.json',
          './tsconfig.tools.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.tests.json' })],
    },
    rules: {
      // The four the house style names, on top of typescript-eslint's recommended type-aware set.
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' },
      ],
      // An async function without await is how an interface that returns a promise is implemented here.
      '@typescript-eslint/require-await': 'off',
      // Rethrowing what was caught (unknown) keeps the original; wrapping it would change what callers see.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      // Terminal code matches ANSI escape sequences on purpose.
      'no-control-regex': 'off',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: entryOnlyThroughIndex }],
    },
  },
  {
    // protocol/ imports nothing of ours.
    files: ['protocol/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@shadowbox/*', '**/daemon/**', '**/clients/**'], message: 'protocol/ imports nothing of ours' },
          ],
        },
      ],
      // Importing the protocol builds no schema (define.ts, lazySchema): a module-level zod call would be built by
      // every process that imports it.
      'no-restricted-syntax': [
        'error',
        ...['Program >', 'Program > ExportNamedDeclaration >'].map((top) => ({
          selector: `${top} VariableDeclaration > VariableDeclarator > CallExpression.init:not([callee.name=/^(lazySchema|defineRequest|defineNotification)$/]):has(Identifier[name='z'])`,
          message: 'declare protocol schemas with lazySchema(() => …) so importing the protocol builds none',
        })),
      ],
    },
  },
  {
    // Importing the daemon builds no schema either (daemon/src/lazy-schemas.test.ts counts zod's calls): a daemon's
    // modules declare theirs with lazySchema(() => …), and a tool's `input` may be such a function.
    files: ['daemon/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test-support.ts', '**/test-fixtures.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...['Program >', 'Program > ExportNamedDeclaration >'].map((top) => ({
          selector: `${top} VariableDeclaration > VariableDeclarator > CallExpression.init:not([callee.name='lazySchema']):has(Identifier[name='z'])`,
          message: "declare the daemon's schemas with lazySchema(() => …) so a daemon's start builds none",
        })),
        {
          selector:
            "CallExpression:matches([callee.name='mkdir'], [callee.property.name='mkdir'], [callee.property.value='mkdir']) > ObjectExpression > Property:matches([key.name='recursive'], [key.value='recursive'])",
          message:
            "use mkdirAll (state/durable.ts): Node's async recursive mkdir reports a disk out of inodes as ENOENT",
        },
      ],
    },
  },
  {
    // Clients never import the daemon.
    files: ['clients/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@shadowbox/daemon', '@shadowbox/daemon/*', '**/daemon/src/**'],
              message: 'clients never import the daemon',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests reach into the folder they test and its neighbours' test support.
    files: ['**/*.test.ts', 'test/**/*.ts', '**/test-support.ts', '**/test-fixtures.ts'],
    rules: {
      'import-x/no-restricted-paths': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // Tests read JSON they produced themselves and assert on it; the wire-data rule (validate at the
      // boundary, `unknown` at every JSON.parse) is for the code under test.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
);
