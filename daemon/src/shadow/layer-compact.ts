import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { DAT_HEADER } from './blob-store.js';
import { typedFsError } from '../state/index.js';
import type { FaultHook } from './fault.js';
import type { LayerStore } from './layer.js';
import type { CompactStats, CompactStep } from './layer-types.js';

/**
 * Why: a long session rewrites the same files hundreds of times; this rewrites the object store with
 * only the `live` objects when the rest exceeds both `minBytes` and `ratio` of the file (null when
 * below). Crash-safe at every step: (1) the manifest is snapshotted and the log emptied (old file, old
 * offsets — the layer as it was); (2) the live records are written to a new file `blobs-<hex>.dat`,
 * fsynced, renamed into place (streamed record by record, so it is not the in-memory writeFileAtomic);
 * (3) a snapshot naming the new file and its offsets replaces layer.json (temp, fsync, rename) — the
 * switch; (4) the old file is removed. A crash before (3) leaves the old manifest and file (the new
 * file is removed on open); after it, the new ones. Object files (`objects/<id>`: > 64 KiB, or copies
 * for merge-file) not in `live` are removed. Caller holds the session lock (no put runs meanwhile).
 */
export async function compactObjects(
  store: LayerStore,
  live: Set<string>,
  opts: { minBytes: number; ratio: number; onStep?: CompactStep; faults?: FaultHook },
): Promise<CompactStats | null> {
  const t0 = performance.now();
  const { blobs, m } = store;
  const size = blobs.datBytes();
  let liveBytes = 0;
  const keep: [string, [number, number]][] = [];
  for (const [oid, loc] of Object.entries(m.blobs)) {
    if (!live.has(oid)) continue;
    keep.push([oid, loc]);
    liveBytes += DAT_HEADER + loc[1];
  }
  const dropped = Object.keys(m.blobs).length - keep.length;
  const garbage = size - liveBytes;
  if (garbage < opts.minBytes || garbage < opts.ratio * size) return null;
  await store.compact(); // (1)
  const name = `blobs-${randomBytes(6).toString('hex')}.dat`;
  const file = path.join(store.dir, name);
  const next: Record<string, [number, number]> = {};
  try {
    opts.faults?.before('dat.compact', file, liveBytes);
    const out = await open(`${file}.tmp`, 'w', 0o600);
    try {
      keep.sort((a, b) => a[1][0] - b[1][0]);
      let at = 0;
      for (const [oid, [from, len]] of keep) {
        const rec = blobs.readRaw(from - DAT_HEADER, DAT_HEADER + len);
        const { bytesWritten } = await out.write(rec, 0, rec.byteLength, at);
        if (bytesWritten !== rec.byteLength) throw new Error(`short write to ${file}.tmp`);
        next[oid] = [at + DAT_HEADER, len];
        at += rec.byteLength;
      }
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(`${file}.tmp`, file); // (2)
  } catch (e) {
    await rm(`${file}.tmp`, { force: true });
    throw await typedFsError(e, file);
  }
  await opts.onStep?.('dat_written');
  await store.writeSnapshotOf({ ...m, blobs: next, dat: name }); // (3)
  // The switch in memory follows the one on disk synchronously: no save can slip in between.
  const old = blobs.datPath;
  for (const oid of Object.keys(m.blobs)) delete m.blobs[oid];
  Object.assign(m.blobs, next);
  m.dat = name;
  store.clearChanged();
  blobs.switchedTo();
  await opts.onStep?.('manifest_written');
  await rm(old, { force: true }); // (4)
  let filesRemoved = 0;
  for (const n of await readdir(blobs.objectsDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{40}$/.test(n) || live.has(n)) continue;
    await rm(path.join(blobs.objectsDir, n), { force: true });
    blobs.forget(n);
    filesRemoved++;
  }
  return {
    bytesBefore: size,
    bytesAfter: blobs.datBytes(),
    objectsDropped: dropped,
    filesRemoved,
    ms: performance.now() - t0,
  };
}
