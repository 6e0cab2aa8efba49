// Issue 15 item 8: one session's corrupt meta.json (torn by a crash on a file system without the
// durable write, or edited by hand) quarantines that session with a logged reason; the daemon starts
// and every other session is there.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionCreate, SessionList } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon } from '../helpers/daemon.js';

describe('a corrupt meta.json', () => {
  it('quarantines only that session, says why in the log, and the daemon starts', async () => {
    const stateDir = await makeTempDir('sbx-meta');
    const ws = await makeTempDir('ws');
    const first = await startTestDaemon({ stateDir, web: false });
    const c = await first.connect('c');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await c.request(SessionCreate, { workspace: ws })).sessionId);
    await first.stop();
    const [torn, wrong, fine] = ids;
    const metaOf = (id: string) => path.join(stateDir, 'sessions', id, 'meta.json');
    const text = await readFile(metaOf(torn), 'utf8');
    await writeFile(metaOf(torn), text.slice(0, Math.floor(text.length / 2)));
    await writeFile(metaOf(wrong), JSON.stringify({ sessionId: wrong, mode: 'nonsense' }));

    const second = await startTestDaemon({ stateDir, web: false });
    try {
      const c2 = await second.connect('c2');
      const listed = (await c2.request(SessionList, {})).sessions.map((s) => s.sessionId);
      expect(listed).toEqual([fine]);
      const log = await readFile(path.join(stateDir, 'daemon.log'), 'utf8');
      for (const id of [torn, wrong]) {
        expect(log).toMatch(
          new RegExp(`session ${id}: meta.json is unreadable \\(.+\\); the session is quarantined in `),
        );
        expect(existsSync(path.join(stateDir, 'sessions', id))).toBe(false);
      }
      // Moved aside whole (its events kept for a person to look at), not deleted.
      const aside = (await readdir(path.join(stateDir, 'sessions'))).filter((n) => n.startsWith('.quarantine-'));
      expect(aside).toHaveLength(2);
      for (const n of aside) expect(existsSync(path.join(stateDir, 'sessions', n, 'events.jsonl'))).toBe(true);
      c2.dispose();
    } finally {
      await second.stop();
      await second.cleanup();
      await first.cleanup();
    }
  });
});
