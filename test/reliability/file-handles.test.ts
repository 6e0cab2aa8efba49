// Issue 15 item 7: an idle session holds no file open. A real daemon under `ulimit -n 256` runs a turn
// with a file write in each of 1,000 sessions (old daemons kept 3–4 files per session and failed with
// EMFILE near session 58); afterwards new clients still connect and the daemon's descriptors stay flat.
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonStatus, SessionCreate, SessionPrompt } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

const SESSIONS = 1000;
const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe('file handles do not grow with sessions', () => {
  let model: ModelServer;
  let d: TestDaemon;
  beforeAll(async () => {
    model = await startModelServer({
      // Every session's turn: write a file (the shadow layer's log and blob store are used), then answer.
      onRequest: (req) => {
        const body = req.body as { messages?: Array<{ role: string }> };
        const answered = body.messages?.some((m) => m.role === 'tool');
        return answered
          ? { text: ['done'] }
          : { toolCalls: [{ name: 'write_file', arguments: { path: 'a.txt', content: 'x\n' } }] };
      },
    });
    d = await startTestDaemon({
      web: false,
      maxOpenFiles: 256,
      env: openaiEnv(model, 'openai/m'),
    });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it(
    `${SESSIONS} sessions that each ran a turn under ulimit -n 256, and new clients still connect`,
    { timeout: 600_000 },
    async () => {
      const ws = await makeTempDir('ws');
      await writeFile(path.join(ws, 'a.txt'), 'a\n');
      const c = await d.connect('many', { permissions: false });
      const turn = async (i: number) => {
        const s = await c.request(SessionCreate, { workspace: ws, mode: 'auto' });
        const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: `turn ${i}` });
        expect(r.stopReason).toBe('end_turn');
      };
      for (let i = 0; i < 10; i++) await turn(i);
      const after10 = openFiles(d.pid);
      // The rest four at a time (sessions are independent; this is about how many were used, not when).
      for (let i = 10; i < SESSIONS; i += 4) await Promise.all([i, i + 1, i + 2, i + 3].map(turn));
      // Flat: what 10 sessions needed is what 1,000 need (a few spare for clients and workers).
      expect(openFiles(d.pid)).toBeLessThanOrEqual(after10 + 8);
      const fresh = [];
      for (let i = 0; i < 20; i++) fresh.push(await d.connect(`late-${i}`));
      expect((await fresh[19].request(DaemonStatus, {})).sessions).toBeGreaterThanOrEqual(SESSIONS);
      expect(d.stderr()).not.toMatch(/EMFILE/);
      for (const f of fresh) f.dispose();
      c.dispose();
    },
  );
});
