// The shadow on a full disk (issue 15 §4, §5): writes, checkpoints, accepts, undos and rejects with the disk
// running out at seeded points. As root (CI) the workspace and state dir live on a small tmpfs, so ENOSPC
// and short writes are the kernel's; otherwise an injected hook fails writes (ENOSPC, short writes) from a
// seeded operation on. Every failure must be the typed DiskFull; once space is freed the same service works
// again; after a restart the review equals what the service showed, nothing is torn, no temp file is left.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { type FaultHook, noSpaceError } from './fault.js';
import { fsckShadow, leftoverTemps, seeded, snapshot } from './fault-support.js';
import { createShadowService, type ShadowService } from './service.js';
import { memoryAudit } from './test-support.js';

const SEED = 0xd15cf011;
const TRIALS = Number(process.env.SHADOWBOX_DISK_FULL_TRIALS ?? 16);
const N = 30;
const version = (i: number, tag: string) => `${tag} ${i}\n`.repeat(200);

/** Mounts a tmpfs of `size` at `dir` when running as root; false when that is not possible here. */
function mountTmpfs(dir: string, size: string): boolean {
  if (process.getuid?.() !== 0 || process.env.SHADOWBOX_DISK_FULL_INJECTED) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const totals = { points: 0, survived: 0, lost: 0 };
let mode = '';
afterAll(() => {
  console.log(
    `shadow disk-full fault injection (${mode}, seed ${SEED.toString(16)}): ${totals.points} points injected, ${totals.survived} survived, ${totals.lost} lost`,
  );
});

describe('disk full', () => {
  it('every failure is DiskFull; the service works again once space is freed; a restart sees exactly what it showed', async () => {
    const top = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sbx-full-')));
    const mnt = path.join(top, 'mnt');
    mkdirSync(mnt);
    const tmpfs = mountTmpfs(mnt, '6m');
    mode = tmpfs ? 'tmpfs' : 'injected ENOSPC';
    const rand = seeded(SEED);
    const root = path.join(mnt, 'ws');
    const stateDir = path.join(mnt, 'state');
    const filler = path.join(mnt, 'filler');
    const failures: string[] = [];
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        rmSync(root, { recursive: true, force: true });
        rmSync(stateDir, { recursive: true, force: true });
        rmSync(filler, { force: true });
        mkdirSync(root);
        for (let i = 0; i < N; i++) writeFileSync(path.join(root, `f${i}.txt`), version(i, 'old'));
        // Full from a seeded point: as tmpfs, the space left; injected, the operation from which writes fail.
        let armed = false;
        let failing = false;
        let ops = 0;
        const failFrom = 1 + Math.floor(rand() * 150);
        const short = rand() < 0.5;
        const faults: FaultHook = {
          before: (op, file, bytes) => {
            if (tmpfs || !armed || !(failing || ++ops >= failFrom)) return;
            failing = true;
            if (short && bytes !== undefined && bytes > 1 && (op === 'log.append' || op === 'blob.write'))
              return Math.floor(bytes / 2);
            throw noSpaceError(file);
          },
        };
        const open = (): ShadowService =>
          createShadowService({ stateDir, audit: memoryAudit(), logger: silentLogger, ...(tmpfs ? {} : { faults }) });
        const t = { sessionId: 's1', workspace: root };
        let svc = open();
        const v = await svc.view('s1', root);
        for (let i = 0; i < 10; i++) await v.writeFile(`f${i}.txt`, version(i, 'new'));
        await svc.checkpoint('s1', root, 't0', 'before the disk filled');
        if (tmpfs) {
          const left = Math.floor(rand() * 400 * 1024);
          const s = statfsSync(mnt);
          writeFileSync(filler, Buffer.alloc(Math.max(0, s.bavail * s.bsize - left)));
        } else armed = true;
        const outcomes: string[] = [];
        const attempt = async (what: string, fn: () => Promise<unknown>) => {
          try {
            await fn();
            outcomes.push(`${what}:ok`);
          } catch (e) {
            if (isShadowboxError(e, ErrorCodes.DiskFull, 'disk_full')) {
              outcomes.push(`${what}:full`);
              totals.points++;
            } else if (isShadowboxError(e, ErrorCodes.NothingToUndo) || isShadowboxError(e, ErrorCodes.HunkNotFound))
              outcomes.push(`${what}:nothing`);
            else failures.push(`trial ${trial}: ${what} failed untyped: ${String(e)}`);
          }
        };
        for (let i = 10; i < N; i++) await attempt(`write f${i}`, () => v.writeFile(`f${i}.txt`, version(i, 'new')));
        await attempt('write n', () => v.writeFile('new/dir/n.txt', 'n\n'.repeat(3000)));
        await attempt('checkpoint', () => svc.checkpoint('s1', root, 't1', 'while full'));
        await attempt('accept', () => svc.accept(t, { paths: [], hunks: [], force: false }, 'person'));
        // A failed accept changed nothing: it does not leave files written under its DiskFull answer. (Injected,
        // every later operation fails, the roll-back's unlinks too, which a kernel's full disk does not do: the
        // next open finishes that roll-back, which the restart below checks.)
        if (tmpfs && outcomes.at(-1) === 'accept:full')
          for (let i = 0; i < N; i++)
            if (readFileSync(path.join(root, `f${i}.txt`), 'utf8') !== version(i, 'old'))
              failures.push(`trial ${trial}: the accept failed DiskFull but f${i}.txt was written`);
        await attempt('undo', () => svc.undo(t, 'person'));
        await attempt('reject', () => svc.reject(t, { paths: ['f1.txt'], hunks: [] }, 'person'));
        // Space comes back: the same service works again, by itself.
        rmSync(filler, { force: true });
        armed = false;
        try {
          await v.writeFile('after.txt', 'space again\n');
          const shown = await snapshot(svc, root);
          await svc.close();
          svc = open();
          const again = await snapshot(svc, root);
          const problems: string[] = [];
          if (JSON.stringify(again.review) !== JSON.stringify(shown.review))
            problems.push('the review after a restart differs from what the service showed');
          for (let i = 0; i < N; i++) {
            const real = readFileSync(path.join(root, `f${i}.txt`), 'utf8');
            if (real !== version(i, 'old') && real !== version(i, 'new')) problems.push(`f${i}.txt is torn`);
          }
          const st = await svc.status(t);
          const stale = st.files.filter((f) => f.stale).map((f) => f.path);
          if (stale.length > 0) problems.push(`review items out of step with the real files: ${stale.join(', ')}`);
          const temps = leftoverTemps(root);
          if (temps.length > 0) problems.push(`temp files left: ${temps.slice(0, 3).join(', ')}`);
          const fsck = fsckShadow(stateDir);
          if (fsck !== '') problems.push(`git fsck: ${fsck.slice(0, 200)}`);
          if (!st.files.some((f) => f.path === 'after.txt'))
            problems.push('the write after space came back is missing');
          if (problems.length > 0) failures.push(`trial ${trial} (${outcomes.join(' ')}): ${problems.join('; ')}`);
          else totals.survived++;
        } catch (e) {
          failures.push(`trial ${trial} (${outcomes.join(' ')}): after space came back: ${String(e)}`);
        } finally {
          await svc.close();
        }
      }
      totals.lost = failures.length;
      expect(failures).toEqual([]);
      expect(totals.points).toBeGreaterThan(0);
    } finally {
      if (tmpfs) execFileSync('umount', [mnt]);
      rmSync(top, { recursive: true, force: true });
    }
  }, 300_000);
});
