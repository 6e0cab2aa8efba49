// A daemon that stops while an editor's prompt runs, the editor relayed by the native launcher to the bridge the
// daemon hosts: the stop ends the turn, and the bridge answers the editor's prompt (stopReason cancelled) before it
// ends the editor's connection (daemon.ts: the hosted bridges are closed after the clients, ACP_STOP_GRACE_MS).
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { connectEditor, defaultVia } from './editor.js';

// Without a C compiler there is no launcher (scripts/build-launcher.mjs), and this says so.
describe.skipIf(defaultVia !== 'launcher')('a daemon stop during a prompt, through the native launcher', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let ws: string;
  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
    ws = await makeTempDir('acpws');
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    await rm(ws, { recursive: true, force: true });
  });

  it("answers the editor's prompt with stopReason cancelled, then ends the relay; the model request is aborted", async () => {
    const e = connectEditor(d.env, { via: 'launcher' });
    await e.agent.request('initialize', {
      protocolVersion: 1,
      clientCapabilities: { fs: { readTextFile: false, writeTextFile: false } },
    });
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    // The stream hangs for ever: the prompt ending at all is the stop's doing.
    model.push({ text: ['Working', ' on it'], delayMs: 20, hang: true });
    const before = model.requests.length;
    const prompt = e.agent.request('session/prompt', {
      sessionId: s.sessionId,
      prompt: [{ type: 'text', text: 'go' }],
    });
    await expect.poll(() => e.kinds(s.sessionId).includes('agent_message_chunk'), { timeout: 30_000 }).toBe(true);
    const stopped = d.stop();
    // A rejection here (the connection closed first) would be the editor left without an answer.
    expect((await prompt).stopReason).toBe('cancelled');
    expect(await stopped).toBe(0);
    // Then the relay ends as the Node bridge does when the daemon stops under it.
    expect(await e.proc.exited).toBe(1);
    expect(e.proc.stderr()).toContain('the daemon connection closed');
    await expect.poll(() => model.requests[before]?.clientClosedAt).toBeTypeOf('number');
  }, 60_000);
});
