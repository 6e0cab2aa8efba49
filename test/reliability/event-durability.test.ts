// Issue 15 item 3: a watcher must only ever see events that are on disk. A real daemon streams a long
// reply to a watching client and is killed with SIGKILL at seeded points; after a restart the watcher
// reattaches with fromSeq = last seen + 1. No seq it saw may now name another event, and the rest of the
// turn (its interrupted end) must arrive: nothing reused, nothing silently missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionAttach, SessionCreate, SessionPrompt, type SessionEvent } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, until } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { seededPoints } from './support.js';

describe('session events survive kill -9 mid-stream', () => {
  let model: ModelServer;
  beforeAll(async () => {
    model = await startModelServer();
  });
  afterAll(async () => {
    await model?.close();
  });

  // Seeded kill points: after the watcher has seen this many streamed deltas.
  for (const k of seededPoints(0x5eed03, 3, 5, 1500)) {
    it(`a watcher killed after ${k} deltas reattaches without a reused seq or a hole`, async () => {
      const stateDir = await makeTempDir('sbx-ev');
      const ws = await makeTempDir('ws');
      const env = openaiEnv(model, 'openai/m');
      const d = await startTestDaemon({ stateDir, web: false, env });
      let d2: Awaited<ReturnType<typeof startTestDaemon>> | undefined;
      try {
        const a = await d.connect('driver');
        const w = await d.connect('watcher');
        const seen: SessionEvent[] = [];
        w.onEvent((e) => seen.push(e));
        const s = await a.request(SessionCreate, { workspace: ws });
        await w.request(SessionAttach, { sessionId: s.sessionId, fromSeq: Number.MAX_SAFE_INTEGER });
        model.push({ text: Array.from({ length: 2000 }, (_, i) => `w${i} `), hang: true });
        void a.request(SessionPrompt, { sessionId: s.sessionId, text: 'stream' }).catch(() => undefined);
        const deltas = () => seen.filter((e) => e.event.type === 'message_delta').length;
        expect(await until(() => deltas() >= k, 30_000)).toBe(true);
        await d.kill();
        const lastSeen = seen[seen.length - 1].seq;

        d2 = await startTestDaemon({ stateDir, web: false, env });
        const w2 = await d2.connect('watcher-again');
        const tail = await w2.request(SessionAttach, { sessionId: s.sessionId, fromSeq: lastSeen + 1 });
        const all = await w2.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0 });
        const bySeq = new Map(all.history.map((e) => [e.seq, e]));
        // Every event the watcher saw is on disk under the same seq, unchanged.
        for (const e of seen) expect(bySeq.get(e.seq)).toEqual(e);
        // The turn's end reaches the reattached watcher (not swallowed by a reused seq).
        expect(tail.history.map((e) => e.event.type)).toContain('turn_end');
        expect(tail.history.find((e) => e.event.type === 'turn_end')?.event).toMatchObject({
          stopReason: 'interrupted',
        });
        // One unbroken sequence on disk.
        const seqs = all.history.map((e) => e.seq);
        expect(seqs).toEqual(seqs.map((_, i) => i));
        w2.dispose();
      } finally {
        await d.cleanup();
        await d2?.stop();
        await d2?.cleanup();
      }
    });
  }

  it('the turn end a client waited for is on disk when its prompt returns', async () => {
    const stateDir = await makeTempDir('sbx-ev');
    const ws = await makeTempDir('ws');
    const env = openaiEnv(model, 'openai/m');
    const d = await startTestDaemon({ stateDir, web: false, env });
    try {
      const a = await d.connect('driver');
      const seen: SessionEvent[] = [];
      a.onEvent((e) => seen.push(e));
      const s = await a.request(SessionCreate, { workspace: ws });
      model.push({ text: Array.from({ length: 300 }, (_, i) => `x${i} `) });
      await a.request(SessionPrompt, { sessionId: s.sessionId, text: 'go' });
      // The response follows the events it caused: turn_end has already arrived.
      expect(seen.map((e) => e.event.type)).toContain('turn_end');
      await d.kill();
      const d2 = await startTestDaemon({ stateDir, web: false, env });
      try {
        const c = await d2.connect('again');
        const all = await c.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0 });
        const bySeq = new Map(all.history.map((e) => [e.seq, e]));
        for (const e of seen) expect(bySeq.get(e.seq)).toEqual(e);
        expect(all.history.map((e) => e.event.type)).not.toContain('daemon_restarted');
      } finally {
        await d2.stop();
        await d2.cleanup();
      }
    } finally {
      await d.cleanup();
    }
  });
});
