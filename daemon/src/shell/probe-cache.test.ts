// The kept sandbox probe: reused only while its key holds, never kept when it failed, and corrected by the
// recheck after ready (then calls are refused with what is missing).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { createShell } from './index.js';
import type { SandboxProbe } from './probe.js';
import { probeKey, readCachedProbe, writeCachedProbe } from './probe-cache.js';

const ok: SandboxProbe = {
  available: true,
  missing: [],
  programs: { bwrap: '/usr/bin/bwrap' },
  socat: null,
  cgroup: null,
  bwrapVersion: 'bubblewrap 0.8.0',
};
const failed: SandboxProbe = {
  available: false,
  reason: 'userns_disabled',
  missing: ['unprivileged user namespaces are disabled: `sudo sysctl kernel.unprivileged_userns_clone=1` (Debian)'],
  programs: { bwrap: '/usr/bin/bwrap' },
  socat: null,
  cgroup: null,
};

function scratchDir(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'sbx-probe-')), 'sandbox-probe');
}

/** The shell capability on `stateDir`; `probe` is how it probes the machine. */
function shellOn(stateDir: string, probe: () => Promise<SandboxProbe>) {
  return createShell({
    stateDir,
    shadow: { writeOverlayLower: () => Promise.reject(new Error('unused')) },
    authorize: () => () => Promise.reject(new Error('unused')),
    logger: silentLogger,
    env: process.env,
    probeSandbox: probe,
  });
}

/** The shell capability on a state dir holding a kept probe that says the sandbox runs; `probe` is how it probes now. */
async function shellWithKeptProbe(probe: () => Promise<SandboxProbe>) {
  const stateDir = path.dirname(scratchDir());
  const scratch = path.join(stateDir, 'sandbox-probe');
  await writeCachedProbe(scratch, probeKey(scratch, process.env), ok);
  return { shell: await shellOn(stateDir, probe), scratch };
}

describe('kept sandbox probe', () => {
  it('is reused under the same key only', async () => {
    const dir = scratchDir();
    const key = probeKey(dir, process.env);
    expect(await readCachedProbe(dir, key)).toBeNull();
    await writeCachedProbe(dir, key, ok);
    expect(await readCachedProbe(dir, key)).toEqual(ok);
    // Another kernel, program or sysctl gives another key: probe again.
    expect(await readCachedProbe(dir, key.replace('"v":1', '"v":2'))).toBeNull();
    expect(probeKey(dir, { PATH: '/nowhere' })).not.toBe(key);
  });

  it('never keeps a failed probe, and removes a kept one when a probe fails', async () => {
    const dir = scratchDir();
    const key = probeKey(dir, process.env);
    await writeCachedProbe(dir, key, ok);
    await writeCachedProbe(dir, key, failed);
    expect(await readCachedProbe(dir, key)).toBeNull();
  });

  it('a torn or foreign file is a miss, not an error', async () => {
    const dir = scratchDir();
    const key = probeKey(dir, process.env);
    await mkdir(dir, { recursive: true });
    writeFileSync(path.join(dir, 'probe.json'), '{"key":');
    expect(await readCachedProbe(dir, key)).toBeNull();
    writeFileSync(path.join(dir, 'probe.json'), JSON.stringify({ key, probe: { ...ok, available: false } }));
    expect(await readCachedProbe(dir, key)).toBeNull();
  });

  it('a start with a kept probe does not probe; the recheck finds the sandbox gone and refuses calls', async () => {
    let probes = 0;
    const { shell, scratch } = await shellWithKeptProbe(() => {
      probes++;
      return Promise.resolve(structuredClone(failed));
    });
    expect(probes).toBe(0);
    expect(shell.probe.available).toBe(true);
    expect(shell.tool).not.toBeNull();
    await shell.recheck();
    expect(probes).toBe(1);
    expect(shell.probe.available).toBe(false);
    expect(shell.detail()).toMatch(/user namespaces are disabled/);
    // A call is refused, typed, with what is missing (before anything runs).
    const call = shell.tool!.handler({ command: 'true' }, {
      sessionId: 's1',
      signal: new AbortController().signal,
    } as unknown as Parameters<NonNullable<typeof shell.tool>['handler']>[1]);
    await expect(call).rejects.toMatchObject({ code: ErrorCodes.SandboxUnavailable, reason: 'userns_disabled' });
    // The next start probes again (the kept probe is gone).
    expect(await readCachedProbe(scratch, probeKey(scratch, process.env))).toBeNull();
    shell.close();
  });
});

describe('the recheck after ready', () => {
  it('fails closed: a probe that throws makes the kept sandbox unavailable', async () => {
    const { shell } = await shellWithKeptProbe(() =>
      Promise.reject(new Error('ENOSPC: no space left on device, mkdtemp')),
    );
    expect(shell.probe.available).toBe(true);
    await shell.recheck();
    expect(shell.probe.available).toBe(false);
    expect(shell.detail()).toMatch(/could not be probed again: ENOSPC/);
    shell.close();
  });
});

describe('the recheck of a stopping daemon', () => {
  it('probes nothing once the shell is closed, and drops a probe that ends after it closed', async () => {
    let probes = 0;
    let finish: (p: SandboxProbe) => void = () => undefined;
    const { shell } = await shellWithKeptProbe(() => {
      probes++;
      return new Promise<SandboxProbe>((r) => (finish = r));
    });
    // Closed during the probe: what it found is not applied (nor kept).
    const during = shell.recheck();
    expect(probes).toBe(1);
    shell.close();
    finish(structuredClone(failed));
    await during;
    expect(shell.probe.available).toBe(true);
    // Closed before: no process is started at all.
    await shell.recheck();
    expect(probes).toBe(1);
  });
});

describe('the first probe', () => {
  it('fails closed: a probe that throws leaves the shell unavailable (not offered, not kept) instead of failing', async () => {
    const stateDir = path.dirname(scratchDir());
    const scratch = path.join(stateDir, 'sandbox-probe');
    const shell = await shellOn(stateDir, () => Promise.reject(new Error('EMFILE: too many open files, mkdtemp')));
    expect(shell.tool).toBeNull();
    expect(shell.probe).toMatchObject({ available: false, reason: 'bwrap_failed' });
    expect(shell.detail()).toMatch(/could not be probed: EMFILE/);
    expect(await readCachedProbe(scratch, probeKey(scratch, process.env))).toBeNull();
    shell.close();
  });
});
