// The client bundle: the bin sends it exactly the commands it has, and it holds none of the daemon.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { clientLoaders } from './client-commands.js';
import { BUNDLE_HEAD } from './compile-cache.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'daemon/bin/shadowbox.js');
const HELP = ['help', '--help', '-h', '--version', '-V'];
/** The build script itself (a dynamic import: scripts/ is plain JavaScript, outside the typed projects). */
const bundleScript = async () =>
  (await import(pathToFileURL(path.join(root, 'scripts/bundle.mjs')).href)) as {
    PARTS: Record<string, string>;
    englishOnlyZod: (required?: boolean) => Plugin;
  };

describe('client bundle', () => {
  it("the bin's list of client commands is client-commands.ts's, plus help and --version", () => {
    const m = /const CLIENT = new Set\(\s*'([^']+)'\.split\(' '\)/.exec(readFileSync(bin, 'utf8'));
    expect(m).not.toBeNull();
    const listed = m![1].split(' ');
    expect(listed.filter((n) => !HELP.includes(n)).sort()).toEqual(Object.keys(clientLoaders).sort());
    expect(listed).toEqual(expect.arrayContaining(HELP));
  });

  it('holds no daemon capability, terminal or web client (built by vitest-bundle.mjs)', () => {
    const dir = path.join(root, 'daemon/dist/bundle');
    const map = JSON.parse(readFileSync(path.join(dir, 'client.cjs.map'), 'utf8')) as { sources: string[] };
    const sources = map.sources.map((s) => path.relative(root, path.resolve(dir, s)));
    const heavy = sources.filter((s) =>
      /daemon\/src\/(wiring|daemon|shadow|sessions|wasi|python|shell|tools|bundles|audit)\b|clients\/(terminal|web)\//.test(
        s,
      ),
    );
    expect(heavy).toEqual([]);
    expect(sources).toContain('daemon/src/cli/lifecycle-commands.ts');
  });

  it('answers help for every command, including those only the full bundle runs', () => {
    const r = spawnSync(process.execPath, [bin, 'help', 'daemon'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: shadowbox daemon/);
    const top = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(top.stdout).toMatch(/\n {2}daemon +/);
  });
});

describe("the daemon's bundle and its parts (scripts/bundle.mjs PARTS)", () => {
  const dir = path.join(root, 'daemon/dist/bundle');
  const sourcesOf = (name: string) =>
    (JSON.parse(readFileSync(path.join(dir, `${name}.map`), 'utf8')) as { sources: string[] }).sources.map((s) =>
      path.relative(root, path.resolve(dir, s)),
    );
  // The list the build uses.
  const partsOf = async () => (await bundleScript()).PARTS;

  it('shadowbox.cjs holds none of the packages loaded on first use; each part holds its package and none of ours', async () => {
    const daemon = sourcesOf('shadowbox.cjs');
    const parts = await partsOf();
    expect(Object.keys(parts)).toEqual(
      expect.arrayContaining(['openai', '@anthropic-ai/sdk', '@modelcontextprotocol/sdk']),
    );
    for (const [pkg, name] of Object.entries(parts)) {
      expect(daemon.filter((s) => s.startsWith(`node_modules/${pkg}/`))).toEqual([]);
      const part = sourcesOf(`part-${name}.cjs`);
      expect(part.some((s) => s.startsWith(`node_modules/${pkg}/`))).toBe(true);
      // A module of ours in a part would be a second copy of it (its classes, its state).
      expect(part.filter((s) => /^(daemon\/src|protocol\/src|clients\/[^/]+\/(src|node))\//.test(s))).toEqual([]);
    }
  });

  it('a part loads on first use through the code cache, under the key of the bundle that asks for it', () => {
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'sbx-parts-'));
    // Each in a fresh process: within one process V8 reuses its in-memory compilation, not the file.
    const run = () =>
      spawnSync(
        process.execPath,
        [
          '-e',
          `const { loadBundle, loadPart } = require(${JSON.stringify(path.join(dir, 'loader.cjs'))});
           const main = loadBundle({ bundleFile: ${JSON.stringify(path.join(dir, 'client.cjs'))}, cacheDir: ${JSON.stringify(cacheDir)}, key: 'status' });
           const part = loadPart(${JSON.stringify(path.join(dir, 'part-openai.cjs'))});
           const again = loadPart(${JSON.stringify(path.join(dir, 'part-openai.cjs'))});
           process.stdout.write([typeof part['.'].default, typeof part['.'].APIError, part === again].join(' '));
           main.save();`,
        ],
        { encoding: 'utf8' },
      );
    try {
      const first = run();
      expect(first.stdout).toBe('function function true');
      const names = spawnSync('ls', [cacheDir], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      // The part's cache is written at exit (it was a miss), named by its own bundle and the asking bundle's key.
      expect(
        names.filter((n) => /^part_openai-[0-9a-f]{32}-v[\d.]+-[a-z0-9]+-[0-9a-f]+-status\.bin$/.test(n)),
      ).toHaveLength(1);
      expect(run().stdout).toBe('function function true');
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('the code-cached bundles are written wrapped (scripts/bundle.mjs WRAPPED)', () => {
  const dir = path.join(root, 'daemon/dist/bundle');
  const cachedBundles = async () => [
    'shadowbox.cjs',
    'client.cjs',
    'acp.cjs',
    ...Object.values((await bundleScript()).PARTS).map((name) => `part-${name}.cjs`),
  ];

  it("each starts with the loader's BUNDLE_HEAD (so it is compiled as it is, without a second copy); the loader does not", async () => {
    for (const name of await cachedBundles()) {
      const head = readFileSync(path.join(dir, name), 'latin1').slice(0, BUNDLE_HEAD.length + 1);
      expect([name, head]).toEqual([name, `${BUNDLE_HEAD}\n`]);
    }
    expect(readFileSync(path.join(dir, 'loader.cjs'), 'latin1').startsWith(BUNDLE_HEAD)).toBe(false);
  });

  it('the source map accounts for the wrapper line: a function maps to its own source line', () => {
    const text = readFileSync(path.join(dir, 'shadowbox.cjs'), 'latin1');
    const at = text.indexOf('async function startDaemon(');
    expect(at).toBeGreaterThan(0);
    const line = text.slice(0, at).split('\n').length - 1;
    const column = at - text.lastIndexOf('\n', at - 1) - 1;
    const map = new SourceMap(
      JSON.parse(readFileSync(path.join(dir, 'shadowbox.cjs.map'), 'utf8')) as SourceMapPayload,
    );
    const entry = map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
    const source = readFileSync(path.join(root, 'daemon/src/daemon.ts'), 'utf8').split('\n');
    expect(entry.originalSource).toMatch(/src\/daemon\.ts$/);
    expect(source[entry.originalLine!]).toMatch(/^export async function startDaemon\(/);
  });
});

describe('zod in the bundles (scripts/bundle.mjs, englishOnlyZod)', () => {
  const dir = path.join(root, 'daemon/dist/bundle');
  const localesIn = (file: string) => {
    const { sources } = JSON.parse(readFileSync(path.join(dir, `${file}.map`), 'utf8')) as { sources: string[] };
    return [...new Set(sources.map((s) => /zod\/v4\/locales\/([^/]+)\.js$/.exec(s)?.[1]))].filter(Boolean);
  };

  it.each(['shadowbox.cjs', 'client.cjs', 'acp.cjs'])('%s holds English and no other locale', (file) => {
    // locales/index.js is there with its contents replaced (it exports en only).
    expect(localesIn(file).sort()).toEqual(['en', 'index']);
  });

  it('a build that must hold zod fails when it loads no locales file (englishOnlyZod, scripts/bundle.mjs)', async () => {
    const { englishOnlyZod } = await bundleScript();
    const tiny = (plugin: Plugin) =>
      build({
        stdin: { contents: 'export const x = 1;', loader: 'js' },
        write: false,
        logLevel: 'silent',
        plugins: [plugin],
      });
    await expect(tiny(englishOnlyZod())).rejects.toThrow(/no bundle loads zod\/v4\/locales\/index\.js any more/);
    await expect(tiny(englishOnlyZod(false))).resolves.toBeDefined();
  });

  it("zod's messages are English in the bundled daemon", () => {
    // A config value of the wrong type: the daemon refuses to start with zod's own message for the issue.
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sb-zod-'));
    try {
      writeFileSync(path.join(stateDir, 'config.json'), JSON.stringify({ maxTurns: 'many' }));
      const r = spawnSync(process.execPath, [bin, 'daemon', '--no-web'], {
        encoding: 'utf8',
        env: { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: path.join(stateDir, 'd.sock') },
        timeout: 60_000,
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('maxTurns: Invalid input: expected number, received string');
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe("the bundled daemon's WASI worker (scripts/bundle.mjs)", () => {
  it('is the CommonJS build beside the bundle (python calls through the bin run on it)', () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sb-worker-'));
    try {
      const r = spawnSync(process.execPath, [bin, 'doctor'], {
        encoding: 'utf8',
        env: { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: path.join(stateDir, 'd.sock') },
        timeout: 60_000,
      });
      const entry = /sandbox worker (\S+)/.exec(r.stdout)?.[1];
      expect(entry).toBe(path.join(root, 'daemon/dist/bundle/wasi-worker.cjs'));
      // Node starts a .cjs worker without its ES module loader; the file must not be an ES module in disguise.
      expect(readFileSync(entry!, 'utf8')).not.toMatch(/^\s*(import|export)\s/m);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
