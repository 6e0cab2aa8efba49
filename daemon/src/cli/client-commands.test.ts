// The client bundle: the bin sends it exactly the commands it has, and it holds none of the daemon.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clientLoaders } from './client-commands.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'daemon/bin/shadowbox.js');
const HELP = ['help', '--help', '-h', '--version', '-V'];

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
