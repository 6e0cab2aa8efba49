// The heap a burst of turns grew is given back once the sessions have gone quiet: a real daemon, a scripted model,
// SHADOWBOX_IDLE_RELEASE_MS short: after turns, a failed turn and a direct call, never while a turn runs. The
// scheduling itself (once per quiet spell, busy sessions, 0 = off) is daemon/src/state/idle-release.test.ts.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionCreate, SessionPrompt, ToolsCall, type SessionEvent } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { openaiEnv, startModelServer, type ModelServer } from '../model-server/index.js';

const QUIET = /debug memory: collected after the sessions went quiet in \d+ ms, RSS \d+ → \d+ MiB/g;

describe('the daemon gives back its heap once the sessions go quiet', () => {
  let model: ModelServer;
  let d: TestDaemon;
  const collections = () => readFileSync(path.join(d.stateDir, 'daemon.log'), 'utf8').match(QUIET)?.length ?? 0;
  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({
      web: false,
      env: { ...openaiEnv(model), SHADOWBOX_DEBUG: '1', SHADOWBOX_IDLE_RELEASE_MS: '300' },
    });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it('one memory-reducing collection after a burst of turns, logged with the RSS before and after', async () => {
    const c = await d.connect();
    const ws = await makeTempDir('ws');
    const s = await c.request(SessionCreate, { workspace: ws });
    for (let i = 0; i < 3; i++) {
      model.push({ text: [`answer ${i}`] });
      const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: `prompt ${i}` });
      expect(r.stopReason).toBe('end_turn');
    }
    await expect.poll(collections, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    c.dispose();
  }, 60_000);

  it('none while a turn runs; after a turn that failed and after a direct tool call, one each', async () => {
    const c = await d.connect('second');
    const ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'a.txt'), 'hello\n');
    const s = await c.request(SessionCreate, { workspace: ws });
    const seen: SessionEvent[] = [];
    c.onEvent((e) => seen.push(e));
    // A turn held open (its stream finishes only when told): many times the 300 ms wait pass without a collection.
    let finish!: () => void;
    model.push({ text: ['holding'], holdUntil: new Promise<void>((r) => (finish = r)) });
    const before = collections();
    const held = c.request(SessionPrompt, { sessionId: s.sessionId, text: 'hold' });
    await expect.poll(() => seen.some((e) => e.event.type === 'message_delta'), { timeout: 30_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(collections()).toBe(before);
    finish();
    expect((await held).stopReason).toBe('end_turn');
    await expect.poll(collections, { timeout: 30_000 }).toBeGreaterThan(before);

    // A turn that fails (the model refuses the key: no retry) ends work too.
    const afterHeld = collections();
    model.push({ error: { status: 401, body: { error: { message: 'bad key' } } } });
    await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'fail' }).catch(() => undefined);
    await expect.poll(collections, { timeout: 30_000 }).toBeGreaterThan(afterHeld);

    // A client's direct tool call is work too.
    const afterFailed = collections();
    const r = await c.request(ToolsCall, { sessionId: s.sessionId, tool: 'read_file', input: { path: 'a.txt' } });
    expect(r.isError).toBe(false);
    await expect.poll(collections, { timeout: 30_000 }).toBeGreaterThan(afterFailed);

    // The daemon goes on serving after them.
    model.push({ text: ['after'] });
    expect((await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'again' })).stopReason).toBe('end_turn');
    c.dispose();
  }, 120_000);
});
