// An accept on a nearly full disk (workspace and state dir on one small tmpfs, so ENOSPC is the kernel's),
// swept over the room left: it either succeeds with every file accepted, or fails DiskFull with every file
// put back at the answer (as main did: the kept names of RealWriter.keep must not eat the roll-back's room,
// and an ENOSPC while staging must not turn into EBADF and a dropped journal).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { type Logger, silentLogger } from '../state/index.js';
import { mountSmallDisk } from '../state/test-support.js';
import type { AcceptRecord } from './journal.js';
import { RealFs } from './real-fs.js';
import { RealWriter } from './real-writer.js';
import { createShadowService } from './service.js';
import { memoryAudit } from './test-support.js';

const disk = mountSmallDisk(8 * 1024 * 1024);
if (!disk) console.log('accept disk-full: not root (no tmpfs mount): the real-disk cases are skipped');
afterAll(() => disk?.unmount());
const KiB = 1024;
const ALL = { paths: [], hunks: [], force: false };

const warnings: string[] = [];
const logger: Logger = {
  ...silentLogger,
  error: (m: string) => void warnings.push(m),
  warn: (m: string) => void warnings.push(m),
};

function journals(stateDir: string): AcceptRecord[] {
  const out: AcceptRecord[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (path.basename(d) === 'accepts' && e.name.endsWith('.json'))
        out.push(JSON.parse(readFileSync(p, 'utf8')) as AcceptRecord);
    }
  };
  walk(stateDir);
  return out;
}

/**
 * One accept of `n` files of `size` bytes each (all replaced) with `room` bytes free; returns what the
 * answer was. Asserts the invariants above, including after freeing space and the session's next call.
 */
async function acceptWithRoom(n: number, size: number, room: number): Promise<string> {
  const top = path.join(disk!.dir, 't');
  rmSync(top, { recursive: true, force: true });
  const root = path.join(top, 'ws');
  const stateDir = path.join(top, 'state');
  mkdirSync(root, { recursive: true });
  const names = Array.from({ length: n }, (_, i) => `f${i}.bin`);
  const old = Buffer.alloc(size, 'o');
  const neu = Buffer.alloc(size, 'n');
  for (const f of names) writeFileSync(path.join(root, f), old);
  const audit = memoryAudit();
  const svc = createShadowService({ stateDir, audit, logger });
  const t = { sessionId: 's1', workspace: root };
  try {
    const v = await svc.view('s1', root);
    for (const f of names) await v.writeFile(f, neu);
    disk!.fillLeaving(room);
    warnings.length = 0;
    const err = await svc.accept(t, ALL, 'me').then(
      () => null,
      (e: unknown) => e,
    );
    const holds = () => names.map((f) => (readFileSync(path.join(root, f)).equals(neu) ? 'new' : 'old'));
    if (err === null) {
      expect(holds().every((h) => h === 'new')).toBe(true);
      expect(audit.entries.filter((e) => e.type === 'shadow.accept')).toHaveLength(1);
      disk!.free();
      await svc.status(t);
      expect(journals(stateDir).map((j) => j.state)).toEqual(['done']);
      return 'accepted';
    }
    expect(isShadowboxError(err, ErrorCodes.DiskFull)).toBe(true);
    // Every file back as it was at the answer, the record gone (main's behaviour at the same room).
    expect(holds()).toEqual(names.map(() => 'old'));
    expect(journals(stateDir).filter((j) => j.state === 'pending')).toEqual([]);
    expect(warnings.filter((w) => w.includes('did not finish'))).toEqual([]);
    disk!.free();
    const st = await svc.status(t);
    expect(holds().every((h) => h === 'old')).toBe(true);
    expect(journals(stateDir).filter((j) => j.state === 'pending' || j.state === 'applied')).toEqual([]);
    expect(st.files.map((f) => f.path).sort()).toEqual([...names].sort());
    return 'rolled back';
  } finally {
    disk!.free();
    await svc.close();
  }
}

describe.skipIf(!disk)('accept on a nearly full disk', () => {
  it('RealWriter.stage of a stored object that does not fit fails DiskFull, not EBADF from a second close', async () => {
    const root = path.join(disk!.dir, 'stage');
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root);
    const object = path.join(path.dirname(disk!.dir), `sbx-object-${process.pid}`);
    writeFileSync(object, Buffer.alloc(400 * KiB, 'x'));
    const w = new RealWriter(new RealFs(root), { protectedPrefixes: [] });
    try {
      disk!.fillLeaving(100 * KiB);
      const err = await w.stage('.a.bin.sbx-0a.tmp', 'a.bin', { object }, 0o644, null).catch((e: unknown) => e);
      expect(isShadowboxError(err, ErrorCodes.DiskFull)).toBe(true);
    } finally {
      await w.close();
      disk!.free();
      rmSync(object, { force: true });
    }
  });

  it('one 400 KiB file, 396–416 KiB free: accepted or rolled back at the answer', async () => {
    const seen = new Set<string>();
    for (let room = 396; room <= 416; room += 2) seen.add(await acceptWithRoom(1, 400 * KiB, room * KiB));
    console.log(`accept disk-full, one 400 KiB file: ${[...seen].join(', ')}`);
    expect(seen.has('accepted')).toBe(true);
  });

  it('20 files of 60 KiB, 60–1460 KiB free: accepted or rolled back at the answer', async () => {
    const seen = new Set<string>();
    for (let room = 60; room <= 1460; room += 40) seen.add(await acceptWithRoom(20, 60 * KiB, room * KiB));
    console.log(`accept disk-full, 20 files of 60 KiB: ${[...seen].join(', ')}`);
    expect(seen.has('accepted')).toBe(true);
  });
});
