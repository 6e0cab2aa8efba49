import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { createWasiRuntime, type WasiRunRequest } from './index.js';
import { spareOutputBuffers } from './inprocess-runner.js';
import { createOverlayView, fixture } from './test-support.js';

const LIMITS = { wallMs: 5000, memoryBytes: 64 * 1024 * 1024, stdoutBytes: 1 << 20, stderrBytes: 1 << 20 };
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('in-process WASI runner', () => {
  const runtime = createWasiRuntime({ poolSize: 2 });
  let probe: Uint8Array;
  let dir: string;
  beforeAll(async () => {
    probe = await fixture('probe');
    dir = await mkdtemp(join(tmpdir(), 'sbx-wasi-'));
    await writeFile(join(dir, 'a.txt'), 'alpha\n');
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'b.txt'), 'beta\n');
  });
  afterAll(async () => {
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
  });
  const run = (argv: string[], extra: Partial<WasiRunRequest> = {}) =>
    runtime.run({
      module: { bytes: probe },
      mounts: { tmp: true },
      argv: ['probe', ...argv],
      limits: LIMITS,
      ...extra,
    });

  it('runs a module: argv, stdout, exit code', async () => {
    const r = await run(['echo', 'hello', 'wörld']);
    expect(r.outcome).toBe('exited');
    expect(r.exitCode).toBe(0);
    expect(text(r.stdout)).toBe('hello wörld\n');
    expect((await run(['exit', '7'])).exitCode).toBe(7);
    const many = Array.from({ length: 40 }, (_, i) => `ü€😀${i}`);
    expect(text((await run(['echo', ...many])).stdout)).toBe(`${many.join(' ')}\n`);
  });

  it('passes env exactly as granted and nothing of the host', async () => {
    const r = await run(['env'], { env: { A: '1', B: 'two' } });
    expect(text(r.stdout)).toBe('A=1\nB=two\n');
  });

  it('reads read-only mounts and refuses writes to them', async () => {
    const mounts = {
      tmp: true,
      readOnly: [{ at: '/bundle', files: new Map([['share/x.txt', Buffer.from('bundled')]]) }],
    };
    expect(text((await run(['cat', '/bundle/share/x.txt'], { mounts })).stdout)).toBe('bundled');
    const w = await run(['write', '/bundle/share/x.txt', 'evil'], { mounts });
    expect(w.exitCode).toBe(1);
  });

  it('reads stdin and uses an in-memory /tmp', async () => {
    expect(text((await run(['stdin'], { stdin: Buffer.from('piped') })).stdout)).toBe('piped');
    expect((await run(['write', '/tmp/t', 'x'])).exitCode).toBe(0);
    expect((await run(['cat', '/tmp/t'])).exitCode).toBe(1);
  });

  it('reads the workspace through the view and writes land in the view, not the real dir', async () => {
    const view = createOverlayView(dir);
    const r = await run(['cat', '/workspace/sub/b.txt'], { mounts: { workspace: view } });
    expect(text(r.stdout)).toBe('beta\n');
    const w = await run(['write', '/workspace/sub/new.txt', 'fresh'], { mounts: { workspace: view } });
    expect(w.exitCode).toBe(0);
    expect(w.changed).toEqual(['sub/new.txt']);
    expect(text(view.overlay.get('sub/new.txt') ?? new Uint8Array())).toBe('fresh');
    const again = await run(['cat', '/workspace/sub/new.txt'], { mounts: { workspace: view } });
    expect(text(again.stdout)).toBe('fresh');
  });

  it("reuses a finished run's output buffers, never the bytes an earlier run left in them", async () => {
    const long = 'y'.repeat(3000);
    const first = await run(['echo', long, long]);
    expect(text(first.stdout)).toBe(`${long} ${long}\n`);
    expect(spareOutputBuffers()).toBeGreaterThanOrEqual(2);
    const second = await run(['echo', 'x']);
    expect(text(second.stdout)).toBe('x\n');
    expect(text(second.stderr)).toBe('');
    // A run stopped at its time limit may still be writing: its buffers are not kept. Nor are those of a run that
    // wrote more than 64 KiB (the pages it touched would stay resident).
    const kept = spareOutputBuffers();
    const stopped = await run(['loop'], { limits: { ...LIMITS, wallMs: 300 } });
    expect(stopped.outcome).toBe('timeout');
    expect(spareOutputBuffers()).toBe(kept - 2);
    const flood = await run(['flood'], { limits: { ...LIMITS, stdoutBytes: 200_000 } });
    expect(flood.outcome).toBe('output_limit');
    expect(spareOutputBuffers()).toBe(kept - 2 + 1); // its stderr, which it left empty
    expect(text((await run(['echo', 'z'])).stdout)).toBe('z\n');
  });

  /** The overlay view, with every readdir it is asked for recorded; `failTop` makes the top folder's listing fail. */
  const listingView = (failTop = false) => {
    const view = createOverlayView(dir);
    const lists: string[] = [];
    const readdir = view.readdir.bind(view);
    view.readdir = async (p) => {
      lists.push(p);
      if (failTop && p === '') throw new ShadowboxError(ErrorCodes.PermissionDenied, 'policy_denied', 'no listing');
      return readdir(p);
    };
    return { view, lists };
  };

  it('lists /workspace ahead when asked (listWorkspaceAhead), and that one listing serves the guest', async () => {
    // Asked ahead, the top folder is listed although this guest never looks in /workspace; not asked, it is not.
    const quiet = listingView();
    const ahead = await run(['echo', 'hi'], { mounts: { workspace: quiet.view }, listWorkspaceAhead: true });
    expect(text(ahead.stdout)).toBe('hi\n');
    expect(quiet.lists).toEqual(['']);
    const plain = listingView();
    await run(['echo', 'hi'], { mounts: { workspace: plain.view } });
    expect(plain.lists).toEqual([]);
    // A guest that walks into /workspace gets the listing made ahead, not a second one.
    const walk = listingView();
    const r = await run(['cat', '/workspace/sub/b.txt'], {
      mounts: { workspace: walk.view },
      listWorkspaceAhead: true,
    });
    expect(text(r.stdout)).toBe('beta\n');
    expect(walk.lists).toEqual(['', 'sub']);
  });

  it('gives the guest the same answer when the listing made ahead fails, and drops it when never asked', async () => {
    // The failure is the guest's look's to report, as without the listing ahead (and no rejection goes unhandled).
    const withAhead = listingView(true);
    const a = await run(['cat', '/workspace/sub/b.txt'], {
      mounts: { workspace: withAhead.view },
      listWorkspaceAhead: true,
    });
    const without = listingView(true);
    const b = await run(['cat', '/workspace/sub/b.txt'], { mounts: { workspace: without.view } });
    expect(a.exitCode).not.toBe(0);
    expect({ exitCode: a.exitCode, stdout: text(a.stdout), stderr: text(a.stderr) }).toEqual({
      exitCode: b.exitCode,
      stdout: text(b.stdout),
      stderr: text(b.stderr),
    });
    const unasked = listingView(true);
    const c = await run(['echo', 'hi'], { mounts: { workspace: unasked.view }, listWorkspaceAhead: true });
    expect(c.exitCode).toBe(0);
    expect(unasked.lists).toEqual(['']);
  });
});
