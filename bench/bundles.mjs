// Bundle verification: a 10 MiB bundle (1 MiB entry module + 9 MiB data file) verified cold (fresh
// service: read archive, hash every byte, check signatures and index), installed, loaded the first
// time (every file hashed) and loaded again (stat-cached files, entry re-hashed) — against
// `sha256sum` of the same archive bytes and node:crypto SHA-256 in the same run.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld } from '../daemon/dist/bundles/test-fixtures.js';

const N = 15;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(fn, n = N) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return median(out);
}

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

    const sha256sum = await time(() => execFileSync('sha256sum', [archivePath]));
    const nodeSha = await time(() => createHash('sha256').update(readFileSync(archivePath)).digest('hex'));
    const verifyCold = await time(() => w.service().verifyPath(versionDir));
    const install = await time((i) =>
      w.service({ stateDir: join(w.base, `state-install-${i}`) }).install({ name: 'big', mirror: w.outDir }),
    );
    // First load in a new process-like service (empty stat cache) vs the same service again.
    const firstLoads = [];
    const cachedLoads = [];
    for (let i = 0; i < N; i++) {
      const svc = w.service({ stateDir: join(w.base, `state-install-${i}`) });
      let t = performance.now();
      await svc.load('big');
      firstLoads.push(performance.now() - t);
      t = performance.now();
      await svc.load('big');
      cachedLoads.push(performance.now() - t);
    }
    const loadCold = median(firstLoads);
    const loadCached = median(cachedLoads);
    const mib = (archiveBytes.length / 2 ** 20).toFixed(1);
    return {
      name: 'bundles',
      rows: [
        { metric: `sha256sum of the ${mib} MiB archive (process)`, value: sha256sum, unit: 'ms', note: 'baseline' },
        { metric: 'node:crypto sha256 of the archive (read + hash)', value: nodeSha, unit: 'ms', note: 'baseline' },
        {
          metric: 'verifyPath cold (archive, signatures, index, every file)',
          value: verifyCold,
          unit: 'ms',
          baseline: sha256sum,
          ratio: verifyCold / sha256sum,
        },
        {
          metric: 'install from a mirror folder (verify + write store)',
          value: install,
          unit: 'ms',
          baseline: sha256sum,
          ratio: install / sha256sum,
        },
        {
          metric: 'load, first in a fresh service (hash every store file)',
          value: loadCold,
          unit: 'ms',
          baseline: sha256sum,
          ratio: loadCold / sha256sum,
        },
        {
          metric: 'load, cached (stat check, entry bytes kept per stat)',
          value: loadCached,
          unit: 'ms',
          baseline: sha256sum,
          ratio: loadCached / sha256sum,
        },
      ],
    };
  } finally {
    await w.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.table((await run()).rows);
