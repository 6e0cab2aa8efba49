// An accept either happens or it does not: when the state disk fills after the person's files were written
// but before the journal says `applied` (the record that grew with the layer slices no longer fits), the
// accept fails DiskFull and its files are put back at once — not left written under a failed answer (and
// then rolled back by the next open). Found by CI's full-disk e2e run (test/reliability/disk-full.test.ts),
// where whether the small `pending` record still fitted depended on the tmpfs's last page.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { type FaultHook, noSpaceError } from './fault.js';
import { leftoverTemps } from './fault-support.js';
import { createShadowService } from './service.js';
import { memoryAudit } from './test-support.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A service whose journal writes fail (ENOSPC) from the `from`-th one on, while `armed`. */
function setup(from: number) {
  const top = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'sbx-aon-')));
  dirs.push(top);
  const root = path.join(top, 'ws');
  mkdirSync(root);
  writeFileSync(path.join(root, 'old.txt'), 'old\n');
  writeFileSync(path.join(root, 'gone.txt'), 'bye\n');
  const ctl = { armed: false, n: 0 };
  const faults: FaultHook = {
    before: (op, file) => {
      if (ctl.armed && op === 'journal.write' && ++ctl.n >= from) throw noSpaceError(file);
    },
  };
  const svc = createShadowService({
    stateDir: path.join(top, 'state'),
    audit: memoryAudit(),
    logger: silentLogger,
    faults,
  });
  return { root, svc, ctl, t: { sessionId: 's1', workspace: root } };
}

describe('an accept is all or nothing on a full state disk', () => {
  for (const [from, when] of [
    [1, 'before the files (the pending record)'],
    [2, 'after the files (the applied record)'],
  ] as const) {
    it(`journal full ${when}: DiskFull, the real files as they were, the review unchanged, no temp; later it works`, async () => {
      const { root, svc, ctl, t } = setup(from);
      try {
        const v = await svc.view('s1', root);
        await v.writeFile('old.txt', 'new\n');
        await v.writeFile('made/deep/n.txt', 'n\n');
        await v.remove('gone.txt');
        const before = (await svc.status(t)).files.map((f) => f.path).sort();
        ctl.armed = true;
        const e = await svc.accept(t, { paths: [], hunks: [], force: false }, 'person').catch((x: unknown) => x);
        expect(isShadowboxError(e, ErrorCodes.DiskFull, 'disk_full')).toBe(true);
        expect(readFileSync(path.join(root, 'old.txt'), 'utf8')).toBe('old\n');
        expect(readFileSync(path.join(root, 'gone.txt'), 'utf8')).toBe('bye\n');
        expect(existsSync(path.join(root, 'made'))).toBe(false);
        expect(leftoverTemps(root)).toEqual([]);
        const st = await svc.status(t);
        expect(st.files.map((f) => f.path).sort()).toEqual(before);
        expect(st.files.filter((f) => f.stale)).toEqual([]);
        // Space again: the same service accepts, and a reopened one sees it accepted.
        ctl.armed = false;
        await svc.accept(t, { paths: [], hunks: [], force: false }, 'person');
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
