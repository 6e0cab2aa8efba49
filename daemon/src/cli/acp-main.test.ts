import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const daemonDir = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(daemonDir, 'bin/shadowbox.js');
let stateDir: string;
beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'sbx-acpmain-'));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** Runs the real bin (the bundles vitest's global setup keeps fresh); resolves its exit code and output. */
async function shadowbox(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_CACHE_DIR: path.join(stateDir, 'cache') };
  try {
    const r = await run(process.execPath, [bin, ...argv], { env });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('shadowbox acp: its own bundle', () => {
  it('the bridge bundle holds the bridge, the client library and the protocol, and no daemon capability', () => {
    const map = JSON.parse(readFileSync(path.join(daemonDir, 'dist/bundle/acp.cjs.map'), 'utf8')) as {
      sources: string[];
    };
    const ours = map.sources
      .filter((s) => !s.includes('node_modules/'))
      .map((s) => path.relative(path.dirname(daemonDir), path.resolve(daemonDir, 'dist/bundle', s)));
    expect(ours).toContain('clients/editor/src/acp/bridge.ts');
    expect(ours).toContain('daemon/src/cli/acp-main.ts');
    // The CLI's dispatch (help, one-sentence errors) and what it names; nothing of the daemon itself.
    expect(ours.filter((s) => s.startsWith('daemon/') && !s.startsWith('daemon/src/cli/')).sort()).toEqual([
      'daemon/src/errors.ts',
      'daemon/src/version.ts',
    ]);
  });

  it('a bad option is one sentence and exit 2, as for every command', async () => {
    const r = await shadowbox('acp', '--bogus');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^shadowbox acp: Unknown option '--bogus'.*--help lists the options\)\n$/);
    expect(r.stdout).toBe('');
  });

  it('`acp --help` is the CLI’s help text', async () => {
    const r = await shadowbox('acp', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Agent Client Protocol');
    expect(r.stdout).toContain('--state-dir');
  });
});
