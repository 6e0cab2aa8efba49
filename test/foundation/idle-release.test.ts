// The heap a burst of turns grew is given back once the sessions have gone quiet: a real daemon, a scripted model,
// SHADOWBOX_IDLE_RELEASE_MS short. The scheduling itself (never while a turn runs, once per quiet spell, 0 = off) is
// daemon/src/state/idle-release.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionCreate, SessionPrompt } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { openaiEnv, startModelServer, type ModelServer } from '../model-server/index.js';

const QUIET = /debug memory: collected after the sessions went quiet in \d+ ms, RSS \d+ → \d+ MiB/g;

describe('the daemon gives back its heap once the sessions go quiet', () => {
  let model: ModelServer;
  let d: TestDaemon;
  const log = () => readFileSync(path.join(d.stateDir, 'daemon.log'), 'utf8');
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
    await expect.poll(() => log().match(QUIET)?.length ?? 0, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    // The daemon goes on serving after it.
    model.push({ text: ['after'] });
    expect((await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'again' })).stopReason).toBe('end_turn');
  }, 60_000);
});
