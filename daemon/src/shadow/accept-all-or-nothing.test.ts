// An accept either happens or it does not: when the state disk fills after the person's files were written
// but before the journal says `applied` (the record that grew with the layer slices no longer fits), the
// accept fails DiskFull and its files are put back at once — not left written under a failed answer (and
// then rolled back by the next open). Found by CI's full-disk e2e run (test/reliability/disk-full.test.ts),
// where whether the small `pending` record still fitted depended on the tmpfs's last page.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { type FaultHook, noSpaceError } from './fault.js';
import { leftoverTemps, matchSnapshot, restoreCopy, snapshot, type Snapshot } from './fault-support.js';
import { Journal } from './journal.js';
import { createShadowService } from './service.js';
import { memoryAudit } from './test-support.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ALL = { paths: [], hunks: [], force: false };

/** A workspace and a session with one of each kind of change: an edit, a new file in new folders, a deleted file, a deleted folder. */
async function prepare(top: string, faults?: FaultHook) {
  const root = path.join(top, 'ws');
  rmSync(top, { recursive: true, force: true });
  mkdirSync(path.join(root, 'd/e'), { recursive: true });
  writeFileSync(path.join(root, 'old.txt'), 'old\n');
  writeFileSync(path.join(root, 'gone.txt'), 'bye\n');
  writeFileSync(path.join(root, 'd/a.txt'), 'a\n');
  writeFileSync(path.join(root, 'd/e/b.txt'), 'b\n');
  const svc = createShadowService({
    stateDir: path.join(top, 'state'),
    audit: memoryAudit(),
    logger: silentLogger,
    ...(faults ? { faults } : {}),
  });
  const v = await svc.view('s1', root);
  await v.writeFile('old.txt', 'new\n');
  await v.writeFile('made/deep/n.txt', 'n\n');
  await v.remove('gone.txt');
  await v.remove('d');
  return { root, svc, t: { sessionId: 's1', workspace: root } };
}

/** Journal writes fail (ENOSPC) from the `from`-th one on, while `ctl.armed`. */
function fullJournalFrom(from: number) {
  const ctl = { armed: false, n: 0 };
  const faults: FaultHook = {
    before: (op, file) => {
      if (ctl.armed && op === 'journal.write' && ++ctl.n >= from) throw noSpaceError(file);
    },
  };
  return { ctl, faults };
}

describe('an accept is all or nothing on a full state disk', () => {
  for (const [from, when] of [
    [1, 'before the files (the pending record)'],
    [2, 'after the files (the applied record)'],
  ] as const) {
    it(`journal full ${when}: DiskFull, the real files as they were, the review unchanged, no temp; later it works`, async () => {
      const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sbx-aon-')));
      dirs.push(base);
      const { ctl, faults } = fullJournalFrom(from);
      const { root, svc, t } = await prepare(path.join(base, 'top'), faults);
      try {
        const before = (await svc.status(t)).files.map((f) => f.path).sort();
        ctl.armed = true;
        const e = await svc.accept(t, ALL, 'person').catch((x: unknown) => x);
        expect(isShadowboxError(e, ErrorCodes.DiskFull, 'disk_full')).toBe(true);
        expect(readFileSync(path.join(root, 'old.txt'), 'utf8')).toBe('old\n');
        expect(readFileSync(path.join(root, 'gone.txt'), 'utf8')).toBe('bye\n');
        expect(existsSync(path.join(root, 'made'))).toBe(false);
        expect(leftoverTemps(root)).toEqual([]);
        const st = await svc.status(t);
        expect(st.files.map((f) => f.path).sort()).toEqual(before);
        expect(st.files.filter((f) => f.stale)).toEqual([]);
        // Space again: the same service accepts.
        ctl.armed = false;
        await svc.accept(t, ALL, 'person');
        expect(readFileSync(path.join(root, 'old.txt'), 'utf8')).toBe('new\n');
        expect(readFileSync(path.join(root, 'made/deep/n.txt'), 'utf8')).toBe('n\n');
        expect(existsSync(path.join(root, 'gone.txt'))).toBe(false);
        expect((await svc.status(t)).files).toEqual([]);
      } finally {
        await svc.close();
      }
    });
  }
});

it('a folder removal failing part-way (EIO on the second folder): the folders already removed come back, in the files and in the review', async () => {
  const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sbx-aon-prune-')));
  dirs.push(base);
  const ctl = { armed: false, rmdirs: 0 };
  const faults: FaultHook = {
    before: (op, file) => {
      if (ctl.armed && op === 'real.rmdir' && ++ctl.rmdirs === 2) {
        const e: NodeJS.ErrnoException = new Error(`EIO: i/o error, rmdir '${file}'`);
        e.code = 'EIO';
        throw e;
      }
    },
  };
  const { root, svc, t } = await prepare(path.join(base, 'top'), faults);
  try {
    const before = await snapshot(svc, root);
    ctl.armed = true;
    const answer = await svc.accept(t, ALL, 'person').catch((e: unknown) => e);
    ctl.armed = false;
    expect(answer).toMatchObject({ code: ErrorCodes.ShadowFailed, data: { reason: 'write_failed' } });
    expect(await snapshot(svc, root)).toEqual(before);
    expect(leftoverTemps(root)).toEqual([]);
    await svc.accept(t, ALL, 'person');
    expect(existsSync(path.join(root, 'd'))).toBe(false);
  } finally {
    await svc.close();
  }
});

// (From a review of the change above.) Each durable operation after the fault is armed is a kill -9 point:
// the state dir and the workspace are copied there, and each copy, opened again, must show the review and the
// files exactly as before the accept or as after it, with no temp file left.
describe('kill -9 at every durable operation of an accept that fails at `applied`', () => {
  const modes = [
    ['disk full from the applied record on (the roll-back cannot write the journal either)', 'full-from-applied'],
    ['disk full only for the applied record', 'full-at-applied'],
    ['the applied record renamed into place, then its folder fsync fails', 'renamed-then-eio'],
  ] as const;
  for (const [title, mode] of modes)
    it(title, async () => {
      const base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sbx-aon-kill-')));
      dirs.push(base);
      const top = path.join(base, 'top');
      const ref = await prepare(top);
      const refs: Snapshot[] = [await snapshot(ref.svc, ref.root)];
      await ref.svc.accept(ref.t, ALL, 'person');
      refs.push(await snapshot(ref.svc, ref.root));
      await ref.svc.close();

      const ctl = { armed: false, journalWrites: 0 };
      const points: { dir: string; at: string }[] = [];
      const faults: FaultHook = {
        before: (op, file) => {
          if (!ctl.armed) return;
          const dir = path.join(base, `kill-${points.length}`);
          cpSync(top, dir, { recursive: true, verbatimSymlinks: true });
          points.push({ dir, at: `${op} ${path.relative(top, file)}` });
          if (op !== 'journal.write') return;
          ctl.journalWrites++;
          if (mode === 'full-from-applied' && ctl.journalWrites >= 2) throw noSpaceError(file);
          if (mode === 'full-at-applied' && ctl.journalWrites === 2) throw noSpaceError(file);
        },
      };
      const write = Journal.prototype.write;
      if (mode === 'renamed-then-eio')
        Journal.prototype.write = async function (r, o) {
          await write.call(this, r, o);
          if (ctl.armed && r.state === 'applied') {
            const e: NodeJS.ErrnoException = new Error('EIO: i/o error, fsync');
            e.code = 'EIO';
            throw e;
          }
        };
      const { root, svc, t } = await prepare(top, faults);
      try {
        ctl.armed = true;
        const answer = await svc.accept(t, ALL, 'person').catch((e: unknown) => e);
        ctl.armed = false;
        if (mode === 'renamed-then-eio') {
          // On disk the accept happened: it stands, and says so.
          expect(answer).toMatchObject({ acceptId: expect.any(String) });
          expect(matchSnapshot(await snapshot(svc, root), refs)).toBe(1);
        } else {
          expect(isShadowboxError(answer, ErrorCodes.DiskFull, 'disk_full')).toBe(true);
          expect(matchSnapshot(await snapshot(svc, root), refs)).toBe(0);
        }
        expect(leftoverTemps(root)).toEqual([]);
      } finally {
        Journal.prototype.write = write;
        await svc.close();
      }
      expect(points.length).toBeGreaterThan(5);
      const bad: string[] = [];
      for (const [i, p] of points.entries()) {
        restoreCopy(p.dir, top);
        const again = createShadowService({
          stateDir: path.join(top, 'state'),
          audit: memoryAudit(),
          logger: silentLogger,
        });
        try {
          const snap = await snapshot(again, root);
          const temps = leftoverTemps(root);
          if (matchSnapshot(snap, refs) < 0 || temps.length > 0)
            bad.push(`kill at #${i} (${p.at}): files ${JSON.stringify(snap.files)}, temps ${temps.join(', ')}`);
        } finally {
          await again.close();
        }
      }
      expect(bad).toEqual([]);
    });
});
