// shadowbox doctor: each check with its fix, never a secret in the output, exit 1 only on a failure.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION as WIRE_VERSION } from '@shadowbox/protocol';
import { PROTOCOL_VERSION, versionLine } from '../version.js';
import type { CliIo } from './context.js';
import { doctorCommand, runDoctor, type DoctorDeps } from './doctor-command.js';

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sb-doctor-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function deps(over: Partial<DoctorDeps> = {}): DoctorDeps {
  const stateDir = path.join(tmp, 'state');
  return {
    env: {},
    stateDir,
    lockFile: path.join(stateDir, 'daemon.lock'),
    nodeVersion: 'v20.20.0',
    binDir: path.join(tmp, 'bin'),
    probeShell: async () => ({
      available: false,
      missing: ['bubblewrap is not installed: `sudo apt-get install bubblewrap`'],
    }),
    ...over,
  };
}

function fakeIo(env: NodeJS.ProcessEnv): { io: CliIo; out: () => string } {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  return { io: { env, cwd: tmp, stdout, stderr: new PassThrough(), stdin: new PassThrough() }, out: () => text };
}

describe('shadowbox doctor', () => {
  it('reports provider keys as present without printing them', async () => {
    const secret = 'sk-test-DO-NOT-PRINT-4242';
    const { io, out } = fakeIo({ OPENAI_API_KEY: secret, SHADOWBOX_STATE_DIR: path.join(tmp, 'state') });
    const code = await doctorCommand(io, []);
    expect(out()).toContain('OPENAI_API_KEY set');
    expect(out()).not.toContain(secret);
    expect(out()).not.toContain('4242');
    expect(code).toBe(0);
    const json = fakeIo({ ANTHROPIC_API_KEY: secret, SHADOWBOX_STATE_DIR: path.join(tmp, 'state') });
    await doctorCommand(json.io, ['--json']);
    expect(json.out()).not.toContain(secret);
  });

  it("the launcher: native in the bin's place, left out by the install, absent for this machine, or not built", async () => {
    const bin = path.join(tmp, 'bin');
    const launcher = async () => (await runDoctor(deps())).find((c) => c.name === 'native launcher');
    expect(await launcher()).toMatchObject({ status: 'warn', fix: expect.stringContaining('npm run build') as string });
    await mkdir(path.join(bin, 'native'), { recursive: true });
    await writeFile(path.join(bin, 'shadowbox'), "#!/usr/bin/env node\nrequire('./shadowbox.js');\n");
    expect(await launcher()).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('no native launcher') as string,
    });
    await writeFile(path.join(bin, 'native', `shadowbox-${process.platform}-${process.arch}`), '\x7fELF');
    expect(await launcher()).toMatchObject({
      status: 'warn',
      fix: expect.stringContaining(path.join(bin, 'install-launcher.cjs')) as string,
    });
    await writeFile(path.join(bin, 'shadowbox'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]));
    expect(await launcher()).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('answer without starting Node') as string,
    });
  });

  it('the shell sandbox: a missing piece is a warning naming its fix; where the real probe passes, ok', async () => {
    const missing = (await runDoctor(deps())).find((c) => c.name === 'shell sandbox');
    expect(missing).toMatchObject({ status: 'warn' });
    expect(missing?.fix).toContain('apt-get install bubblewrap');
    const { probeSandbox } = await import('../shell/index.js');
    const real = await probeSandbox(tmp);
    const checked = (await runDoctor(deps({ probeShell: async () => real }))).find((c) => c.name === 'shell sandbox');
    // This machine may or may not have bubblewrap and user namespaces: the check says what the probe found.
    expect(checked?.status).toBe(real.available ? 'ok' : 'warn');
    if (!real.available) expect(checked?.fix).toBe(real.missing.join('; '));
  });

  it('no provider key is a warning with the fix, not a failure', async () => {
    const checks = await runDoctor(deps());
    const provider = checks.find((c) => c.name === 'model provider');
    expect(provider).toMatchObject({ status: 'warn' });
    expect(provider?.fix).toContain('OPENAI_API_KEY');
    expect(checks.find((c) => c.name === 'daemon')).toMatchObject({ status: 'ok' });
    expect(checks.find((c) => c.name === 'state dir')).toMatchObject({ status: 'ok' });
  });

  it('an unwritable state dir fails with a fix, and the command exits 1', async () => {
    const file = path.join(tmp, 'a-file');
    await writeFile(file, 'not a folder');
    const stateDir = path.join(file, 'state');
    const checks = await runDoctor(deps({ stateDir, lockFile: path.join(stateDir, 'daemon.lock') }));
    const c = checks.find((k) => k.name === 'state dir');
    expect(c).toMatchObject({ status: 'fail' });
    expect(c?.fix).toContain('SHADOWBOX_STATE_DIR');
    const { io } = fakeIo({ SHADOWBOX_STATE_DIR: stateDir });
    expect(await doctorCommand(io, [])).toBe(1);
  });

  it('an old Node fails with how to install a newer one', async () => {
    const c = (await runDoctor(deps({ nodeVersion: 'v18.19.0' }))).find((k) => k.name === 'node');
    expect(c).toMatchObject({ status: 'fail' });
    expect(c?.fix).toMatch(/Node ≥ 20\.19/);
  });

  it('names each official bundle, with the install command when nothing offers it', async () => {
    const checks = await runDoctor(deps());
    for (const name of ['python', 'jq', 'sqlite']) expect(checks.some((c) => c.name === `bundle ${name}`)).toBe(true);
    for (const c of checks.filter((k) => k.name.startsWith('bundle ') && k.status === 'warn'))
      expect(c.fix).toMatch(/npm i -g @shadowbox\/bundle-/);
  });
});

describe('shadowbox --version', () => {
  it('names the protocol version the wire actually speaks', () => {
    expect(PROTOCOL_VERSION).toBe(WIRE_VERSION);
    expect(versionLine('v20.20.0')).toMatch(/^shadowbox \d+\.\d+\.\d+ \(protocol \d+, node v20\.20\.0\)$/);
  });
});
