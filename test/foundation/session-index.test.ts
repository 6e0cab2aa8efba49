// A start reads an idle session from its log index (daemon/src/sessions/log-index.ts), not its whole event log,
// and only while the log is exactly the one the index describes: a log appended since (a daemon killed after
// more events) is read whole again, and a turn the crash left open is ended.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionAttach, SessionCreate, SessionList, SessionPrompt, type SessionInfo } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, until } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

describe('session log index', () => {
  let model: ModelServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    model = await startModelServer();
    env = openaiEnv(model, 'openai/m');
  });
  const dirs: string[] = [];
  const tempDir = async (prefix: string) => {
    const d = await makeTempDir(prefix);
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    await model?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** The session's entry in session/list of a daemon started on `stateDir` (then stopped). */
  async function listed(stateDir: string, sessionId: string): Promise<{ info: SessionInfo; stderr: string }> {
    const d = await startTestDaemon({ stateDir, web: false, env });
    try {
      const c = await d.connect('lister');
      const info = (await c.request(SessionList, {})).sessions.find((s) => s.sessionId === sessionId);
      c.dispose();
      if (!info) throw new Error(`session ${sessionId} not listed`);
      return { info, stderr: d.stderr() };
    } finally {
      await d.stop();
    }
  }

  it('lists an idle session from its index as a full read of its log does, without parsing the log', async () => {
    const stateDir = await tempDir('sbx-idx');
    const ws = await tempDir('ws');
    const d = await startTestDaemon({ stateDir, web: false, env });
    let sessionId: string;
    try {
      const c = await d.connect('driver');
      sessionId = (await c.request(SessionCreate, { workspace: ws })).sessionId;
      model.push({ text: ['hello ', 'there'] });
      await c.request(SessionPrompt, { sessionId, text: 'hi' });
      c.dispose();
    } finally {
      await d.stop();
    }
    const dir = path.join(stateDir, 'sessions', sessionId);
    const events = path.join(dir, 'events.jsonl');
    // A complete line that is not an event, mid-log: a full read skips it and says so; a read from the index
    // never parses the log, so it says nothing.
    const lines = (await readFile(events, 'utf8')).split('\n');
    lines.splice(2, 0, '{"not":"an event"}');
    await writeFile(events, lines.join('\n'));

    const full = await listed(stateDir, sessionId); // the log changed since the index: read whole, index rewritten
    expect(full.stderr).toMatch(/1 unreadable log line\(s\) skipped/);
    const fromIndex = await listed(stateDir, sessionId);
    expect(fromIndex.stderr).not.toMatch(/unreadable log line/);
    // The same entry either way: events, prompts, usage, last activity.
    expect(fromIndex.info).toEqual(full.info);
    expect(fromIndex.info.prompts).toBe(1);
    expect(fromIndex.info.usage?.inputTokens).toBeGreaterThan(0);

    // A torn or foreign index is not trusted: the log is read whole again.
    await writeFile(path.join(dir, 'log-index.json'), '{"v":1,"ino":');
    const again = await listed(stateDir, sessionId);
    expect(again.stderr).toMatch(/1 unreadable log line\(s\) skipped/);
    expect(again.info).toEqual(full.info);
  });

  it('reads a log appended since its index whole: a turn a kill -9 left open is ended, no seq reused', async () => {
    const stateDir = await tempDir('sbx-idx');
    const ws = await tempDir('ws');
    let sessionId: string;
    const d = await startTestDaemon({ stateDir, web: false, env });
    try {
      const c = await d.connect('driver');
      sessionId = (await c.request(SessionCreate, { workspace: ws })).sessionId;
      c.dispose();
    } finally {
      await d.stop(); // the index describes the log as it is now
    }
    const index = await readFile(path.join(stateDir, 'sessions', sessionId, 'log-index.json'), 'utf8');
    expect(JSON.parse(index)).toMatchObject({ v: 1, prompts: 0 });

    // A turn starts, streams, and the daemon is killed in the middle of it.
    const d2 = await startTestDaemon({ stateDir, web: false, env });
    try {
      const c = await d2.connect('driver');
      const seen: string[] = [];
      c.onEvent((e) => seen.push(e.event.type));
      await c.request(SessionAttach, { sessionId, driver: true, fromSeq: Number.MAX_SAFE_INTEGER });
      model.push({ text: Array.from({ length: 500 }, (_, i) => `w${i} `), hang: true });
      void c.request(SessionPrompt, { sessionId, text: 'stream' }).catch(() => undefined);
      expect(await until(() => seen.includes('message_delta'))).toBe(true);
      await d2.kill();
    } finally {
      await d2.cleanup().catch(() => undefined);
    }

    const d3 = await startTestDaemon({ stateDir, web: false, env });
    try {
      const c = await d3.connect('again');
      const all = await c.request(SessionAttach, { sessionId, fromSeq: 0 });
      const seqs = all.history.map((e) => e.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i));
      expect(all.history.find((e) => e.event.type === 'turn_end')?.event).toMatchObject({ stopReason: 'interrupted' });
      expect(all.session.prompts).toBe(1);
      c.dispose();
    } finally {
      await d3.stop();
    }
    // A full read of the log whose last event is the interrupted turn's: the index moved on with it.
    const after = JSON.parse(await readFile(path.join(stateDir, 'sessions', sessionId, 'log-index.json'), 'utf8'));
    expect(after.prompts).toBe(1);
    expect(after.nextSeq).toBeGreaterThan(JSON.parse(index).nextSeq);
    // And the next start lists it from that index.
    const { info } = await listed(stateDir, sessionId);
    expect(info.prompts).toBe(1);
  });
});
