// Bundle verification: a 10 MiB bundle (1 MiB entry module + 9 MiB data file) verified cold (fresh
// service: read archive, hash every byte, check signatures and index), installed, loaded the first
// time after the install (its kept hashes) and without them (every file hashed), and loaded again (stat-cached
// files) — each interleaved over ≥ 5 rounds with `sha256sum` of the same archive bytes or node:crypto SHA-256
// (median, min–max).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld } from '../daemon/dist/bundles/test-fixtures.js';
import { interleave, interleaveMeasured, row, stats } from './lib/interleave.mjs';

const N = 11; // interleaved rounds

export async function run() {
  const w = await createWorld();
  try {
    w.now = new Date();
    // ASCII payloads (the test fixture takes strings): exactly 1 MiB and 9 MiB of bytes.
    const entry = randomBytes(1024 * 1024)
      .toString('base64')
      .slice(0, 1024 * 1024);
    const data = randomBytes(9 * 1024 * 1024)
      .toString('base64')
      .slice(0, 9 * 1024 * 1024);
    const e = await w.publish('big', '1.0.0', { 'bin/big.wasm': entry, 'share/data.bin': data });
    await w.index({ big: { '1.0.0': e } });
    const versionDir = join(w.outDir, 'big', '1.0.0');
    const archivePath = join(versionDir, 'bundle.tar');
    const archiveBytes = readFileSync(archivePath);
    const mib = (archiveBytes.length / 2 ** 20).toFixed(1);
    let installs = 0;

    const sum = () => execFileSync('sha256sum', [archivePath]);
    const nodeSha = () => createHash('sha256').update(readFileSync(archivePath)).digest('hex');
    const rows = [
      row(
        'verifyPath cold (archive, signatures, index, every file)',
        await interleave(N, () => w.service().verifyPath(versionDir), sum),
        `vs sha256sum of the ${mib} MiB archive (spawned)`,
      ),
      row(
        'install from a mirror folder (verify + write store)',
        await interleave(
          N,
          () =>
            w
              .service({ stateDir: join(w.base, `state-install-${installs++}`) })
              .install({ name: 'big', mirror: w.outDir }),
          sum,
        ),
        'vs sha256sum of the archive',
      ),
    ];
    // The first load in a new process-like service (empty stat cache) right after the install (the hashes it kept of
    // what it wrote: only the entry is read and hashed); then, with those kept hashes removed, the first load in
    // another new service (every store file hashed), then the same service again.
    const keptLoads = [];
    const firstLoads = [];
    const cachedLoads = [];
    const hashes = await interleaveMeasured(
      N,
      async (i) => {
        const stateDir = join(w.base, `state-install-${i}`);
        let t = performance.now();
        await w.service({ stateDir }).load('big');
        keptLoads.push(performance.now() - t);
        rmSync(join(stateDir, 'bundles', 'hash-cache.json'), { force: true });
        const svc = w.service({ stateDir });
        t = performance.now();
        await svc.load('big');
        firstLoads.push(performance.now() - t);
        t = performance.now();
        await svc.load('big');
        cachedLoads.push(performance.now() - t);
        return firstLoads.at(-1);
      },
      async () => {
        const t = performance.now();
        nodeSha();
        return performance.now() - t;
      },
    );
    rows.push(
      row(
        'load, first in a fresh service after the install (its kept hashes; the entry hashed)',
        { subject: stats(keptLoads), baseline: hashes.baseline },
        'vs node:crypto sha256 of the archive (read + hash)',
      ),
      row(
        'load, first in a fresh service, no kept hashes (hash every store file)',
        hashes,
        'vs node:crypto sha256 of the archive (read + hash)',
      ),
      row(
        'load, cached (stat check; entry bytes held weakly, re-read once collected)',
        { subject: stats(cachedLoads), baseline: hashes.baseline },
        'vs node:crypto sha256 of the archive',
      ),
    );
    return { name: 'bundles', rows };
  } finally {
    await w.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.table((await run()).rows);
