// Issue 15 item 6 through a real daemon: a model server that never answers ends the turn with a typed,
// retryable error (modelIdleTimeoutMs from config.json; tiny here, and the stall never ends, so the
// outcome does not depend on timing), and the session takes the next prompt normally. The next prompt runs
// on a daemon restarted with the default timeouts on the same state dir: with a 100 ms idle limit a loaded
// machine could time out a healthy stream too. Each daemon has a model server of its own: with a 100 ms first-byte
// limit a loaded machine can time the call out before its request reaches the server (the first fetch of a process
// loads undici), and the stall left in a shared server's script was then the restarted daemon's answer (CI, load 12).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, SessionAttach, SessionCreate, SessionPrompt, type SessionEvent } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, type Reply, openaiEnv } from '../model-server/index.js';

describe('hung model streams end the turn typed', () => {
  const servers: ModelServer[] = [];
  const start = async (model: ModelServer, config: Record<string, unknown>, dir?: string) => {
    const stateDir = dir ?? (await makeTempDir('sbx-hung'));
    await writeFile(path.join(stateDir, 'config.json'), JSON.stringify(config));
    return startTestDaemon({
      stateDir,
      web: false,
      env: {
        ...openaiEnv(model, 'openai/m'),
        SHADOWBOX_MODEL_MAX_RETRIES: '0',
      },
    });
  };
  afterAll(async () => {
    await Promise.all(servers.map((m) => m.close()));
  });
  const server = async () => {
    const m = await startModelServer();
    servers.push(m);
    return m;
  };

  // Tiny limits only where the stall never ends; the malformed case keeps a long one, so a slow machine
  // cannot turn it into a timeout.
  for (const [what, reply, reason, config] of [
    ['never sends headers', { stallBeforeHeaders: true }, 'first_byte_timeout', { modelIdleTimeoutMs: 100 }],
    [
      'stops mid-stream',
      { text: ['a', 'b', 'c'], stallAfterChunks: 3 },
      'idle_timeout',
      { modelIdleTimeoutMs: 100, modelFirstByteTimeoutMs: 60_000 },
    ],
    ['sends a chunk that is not JSON', { text: ['a', 'b', 'c'], malformedAfterChunks: 2 }, 'malformed_stream', {}],
  ] satisfies Array<[string, Reply, string, Record<string, unknown>]>) {
    it(`a server that ${what}: ${reason}, retryable, and the next prompt works`, async () => {
      const model = await server();
      const d: TestDaemon = await start(model, config);
      let again: TestDaemon | undefined;
      try {
        const c = await d.connect('c');
        const seen: SessionEvent[] = [];
        c.onEvent((e) => seen.push(e));
        const s = await c.request(SessionCreate, { workspace: await makeTempDir('ws') });
        model.push(reply);
        const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'hi' });
        expect(r).toMatchObject({
          stopReason: 'error',
          error: { code: ErrorCodes.ProviderUnavailable, reason, retryable: true },
        });
        expect(seen.find((e) => e.event.type === 'turn_end')?.event).toMatchObject({ error: { reason } });
        c.dispose();
        await d.stop();
        const fresh = await server();
        again = await start(fresh, {}, d.stateDir);
        const c2 = await again.connect('c2');
        await c2.request(SessionAttach, { sessionId: s.sessionId, driver: true });
        fresh.push({ text: ['fine'] });
        expect((await c2.request(SessionPrompt, { sessionId: s.sessionId, text: 'again' })).stopReason).toBe(
          'end_turn',
        );
        c2.dispose();
      } finally {
        await again?.stop();
        await d.stop();
        await d.cleanup();
      }
    });
  }
});
