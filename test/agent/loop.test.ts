// The agent loop end to end: a real daemon process, real providers (OpenAI and Anthropic SDK code paths)
// against the scripted model server, real tools, policy, shadow workspace and audit, two clients on the
// Unix socket.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditQuery,
  PolicySetRules,
  SessionAttach,
  SessionCancel,
  SessionCreate,
  SessionPrompt,
  ShadowDiff,
  ShadowStatus,
  WorkspaceChanged,
  type SessionEvent,
} from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon, until } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { useModelDaemon } from '../helpers/model-daemon.js';

const types = (es: SessionEvent[]) => es.map((e) => e.event.type);

for (const provider of ['openai', 'anthropic'] as const) {
  describe(`agent loop over ${provider}`, () => {
    let model: ModelServer;
    let d: TestDaemon;
    beforeAll(async () => {
      model = await startModelServer();
      const env =
        provider === 'openai'
          ? openaiEnv(model)
          : { SHADOWBOX_MODEL: 'anthropic/test-model', ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'test-key' };
      d = await startTestDaemon({ web: false, env });
    });
    afterAll(async () => {
      await d?.stop();
      await d?.cleanup();
      await model?.close();
    });

    it('runs prompt → tool call → tool result → next turn with two clients seeing every event; the edit waits in the shadow', async () => {
      const ws = await makeTempDir('ws');
      await writeFile(path.join(ws, 'a.txt'), 'hello\n');
      const a = await d.connect('a');
      const b = await d.connect('b');
      const seenA: SessionEvent[] = [];
      const seenB: SessionEvent[] = [];
      a.onEvent((e) => seenA.push(e));
      b.onEvent((e) => seenB.push(e));
      const s = await a.request(SessionCreate, { workspace: ws });
      await b.request(SessionAttach, { sessionId: s.sessionId, fromSeq: Number.MAX_SAFE_INTEGER });
      model.push(
        { text: ['Reading ', 'the file.'], toolCalls: [{ name: 'read_file', arguments: { path: 'a.txt' } }] },
        {
          text: ['Now ', 'editing.'],
          toolCalls: [{ name: 'write_file', arguments: { path: 'a.txt', content: 'hello, world\n' } }],
        },
        { text: ['Done: ', 'a.txt says hello, world.'] },
      );
      const before = model.requests.length;
      const r = await a.request(SessionPrompt, { sessionId: s.sessionId, text: 'greet the world in a.txt' });
      expect(r.stopReason).toBe('end_turn');
      expect(model.requests.length - before).toBe(3);
      // The second request carried the read_file result back to the model.
      expect(JSON.stringify(model.requests[before + 1].body).includes('1\\thello')).toBe(true);

      expect(await until(() => seenB.some((e) => e.event.type === 'turn_end'))).toBe(true);
      // Every event a got after b attached, b got too, in the same order.
      const fromSeq = seenB[0].seq;
      expect(seenB.map((e) => e.seq)).toEqual(seenA.filter((e) => e.seq >= fromSeq).map((e) => e.seq));
      const text = seenA.flatMap((e) => (e.event.type === 'message_delta' ? [e.event.text] : [])).join('');
      expect(text).toContain('Reading the file.');
      expect(text).toContain('a.txt says hello, world.');
      const completed = seenA.filter((e) => e.event.type === 'tool_call_update' && e.event.status === 'completed');
      expect(completed).toHaveLength(2);
      expect(seenA.some((e) => e.event.type === 'checkpoint' && e.event.files.includes('a.txt'))).toBe(true);

      // The person's file is untouched; the change is reviewable.
      expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('hello\n');
      const diff = await a.request(ShadowDiff, { sessionId: s.sessionId });
      expect(diff.files.map((f) => f.path)).toEqual(['a.txt']);

      // The person edits the file the agent changed: clients are told, and the review item is stale.
      const changed: Array<{ paths: string[]; stale: string[] }> = [];
      b.connection.onNotification(WorkspaceChanged.type, (p) => {
        changed.push(p);
      });
      // The watcher starts after the first checkpoint and is ready a moment later: the person's edit is
      // repeated until it is seen (a condition, not a guessed delay).
      const seenStale = () => changed.some((c) => c.stale.includes('a.txt'));
      while (!seenStale()) {
        await writeFile(path.join(ws, 'a.txt'), 'hello from the person\n');
        await until(seenStale, 250);
      }
      const status = await a.request(ShadowStatus, { sessionId: s.sessionId });
      expect(status.files.find((f) => f.path === 'a.txt')?.stale).toBe(true);

      // Each tool call is in the audit log with its decision.
      const audit = await a.request(AuditQuery, { workspace: ws, type: 'tool.call' });
      expect(audit.entries.map((e) => e.data.tool)).toEqual(['read_file', 'write_file']);
      a.dispose();
      b.dispose();
    });

    it('turns invalid arguments, unknown tools and escaping paths into tool errors the model sees, not a crash', async () => {
      const ws = await makeTempDir('ws');
      const outside = await makeTempDir('outside');
      const a = await d.connect('a');
      const s = await a.request(SessionCreate, { workspace: ws });
      model.push(
        {
          toolCalls: [
            { name: 'write_file', arguments: { path: 'x.txt' } },
            { name: 'no_such_tool', arguments: {} },
            { name: 'write_file', arguments: { path: `../${path.basename(outside)}/pwned.txt`, content: 'x' } },
          ],
        },
        { text: ['I see the errors.'] },
      );
      const before = model.requests.length;
      const r = await a.request(SessionPrompt, { sessionId: s.sessionId, text: 'try things' });
      expect(r.stopReason).toBe('end_turn');
      const sent = JSON.stringify(model.requests[before + 1].body);
      expect(sent).toMatch(/content/); // the validation error names the missing field
      expect(sent).toMatch(/no_such_tool/);
      expect(sent.toLowerCase()).toMatch(/outside|escape/);
      await expect(readFile(path.join(outside, 'pwned.txt'))).rejects.toThrow();
      a.dispose();
    });

    it('cancels a slow stream promptly and the session stays usable', async () => {
      const ws = await makeTempDir('ws');
      const a = await d.connect('a');
      const seen: SessionEvent[] = [];
      a.onEvent((e) => seen.push(e));
      const s = await a.request(SessionCreate, { workspace: ws });
      // The stream never ends by itself: the prompt returning at all is the cancel's doing.
      model.push({ text: Array.from({ length: 20 }, (_, i) => `chunk${i} `), hang: true }, { text: ['still here'] });
      const p = a.request(SessionPrompt, { sessionId: s.sessionId, text: 'talk slowly' });
      expect(await until(() => seen.some((e) => e.event.type === 'message_delta'))).toBe(true);
      expect((await a.request(SessionCancel, { sessionId: s.sessionId })).cancelled).toBe(true);
      expect((await p).stopReason).toBe('cancelled');
      const r2 = await a.request(SessionPrompt, { sessionId: s.sessionId, text: 'again' });
      expect(r2.stopReason).toBe('end_turn');
      a.dispose();
    });

    it('retries 429 and 5xx, then reports an auth failure as a typed error without retrying', async () => {
      const ws = await makeTempDir('ws');
      const a = await d.connect('a');
      const s = await a.request(SessionCreate, { workspace: ws });
      model.push({ error: { status: 429, retryAfter: 0 } }, { error: { status: 503 } }, { text: ['recovered'] });
      const before = model.requests.length;
      expect((await a.request(SessionPrompt, { sessionId: s.sessionId, text: 'x' })).stopReason).toBe('end_turn');
      expect(model.requests.length - before).toBe(3);

      model.push({ error: { status: 401 } });
      const before2 = model.requests.length;
      const r = await a.request(SessionPrompt, { sessionId: s.sessionId, text: 'y' });
      expect(r.stopReason).toBe('error');
      expect(r.error?.reason).toMatch(/auth/);
      expect(model.requests.length - before2).toBe(1);
      a.dispose();
    });
  });
}

describe('permission questions and crash recovery', () => {
  const md = useModelDaemon();
  let d: TestDaemon;

  it('asks every permission-capable client, takes the first answer, cancels the other; after kill -9 the question is asked again', async () => {
    d = await md.start();
    const ws = await makeTempDir('ws');
    const admin = await d.connect('admin');
    await admin.request(PolicySetRules, { workspace: ws, add: [{ action: 'ask', tool: 'write_file' }] });
    const a = await d.connect('a', { permissions: true });
    const asked: string[] = [];
    a.onPermission(async (q) => {
      asked.push(q.tool);
      return new Promise(() => undefined); // never answers: the crash comes first
    });
    const s = await a.request(SessionCreate, { workspace: ws });
    md.model.push(
      { toolCalls: [{ name: 'write_file', arguments: { path: 'n.txt', content: 'new\n' } }] },
      { text: ['written'] },
    );
    void a.request(SessionPrompt, { sessionId: s.sessionId, text: 'write n.txt' }).catch(() => undefined);
    expect(await until(() => asked.length === 1)).toBe(true);
    await d.kill();

    d = await md.start();
    const b = await d.connect('b', { permissions: true });
    const c = await d.connect('c', { permissions: true });
    const bAsked: string[] = [];
    let cCancelled = false;
    b.onPermission(async (q) => {
      bAsked.push(q.callId);
      return { outcome: 'allow_once' };
    });
    c.onPermission(
      (_q, signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            cCancelled = true;
            reject(new Error('cancelled'));
          }),
        ),
    );
    const seen: SessionEvent[] = [];
    b.onEvent((e) => seen.push(e));
    await c.request(SessionAttach, { sessionId: s.sessionId, fromSeq: Number.MAX_SAFE_INTEGER });
    const att = await b.request(SessionAttach, { sessionId: s.sessionId, driver: true });
    expect(types(att.history)).toContain('daemon_restarted');
    expect(await until(() => seen.some((e) => e.event.type === 'turn_end'))).toBe(true);
    expect(bAsked).toHaveLength(1);
    expect(await until(() => cCancelled)).toBe(true);
    const resolved = seen.find((e) => e.event.type === 'permission_resolved');
    expect(resolved?.event).toMatchObject({ outcome: 'allow_once', by: b.clientId });
    const diff = await b.request(ShadowDiff, { sessionId: s.sessionId });
    expect(diff.files.map((f) => f.path)).toEqual(['n.txt']);
  });
});
