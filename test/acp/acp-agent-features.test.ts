// The agent features as an ACP editor sees them: the real `shadowbox acp` binary with the SDK's client side,
// a real daemon and the scripted model. Slash commands are advertised (available_commands_update) and drive
// review without `_shadowbox/*` methods; plans, usage with cost, compaction and images map to ACP.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionNotification } from '@agentclientprotocol/sdk';
import { makeTempDir, startTestDaemon, type TestDaemon, until } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { connectEditor, type AcpEditor } from './editor.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
type Update = SessionNotification['update'];
const of = <K extends Update['sessionUpdate']>(e: AcpEditor, id: string, kind: K) =>
  e.updates
    .filter((u) => u.sessionId === id && u.update.sessionUpdate === kind)
    .map((u) => u.update as Extract<Update, { sessionUpdate: K }>);
const said = (e: AcpEditor, id: string) =>
  of(e, id, 'agent_message_chunk')
    .map((u) => (u.content.type === 'text' ? u.content.text : ''))
    .join('');

describe('ACP: commands, plans, usage, instruction files, compaction, images', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let e: AcpEditor;
  let ws: string;
  let sessionId = '';
  beforeAll(async () => {
    model = await startModelServer();
    const stateDir = await makeTempDir('st');
    await writeFile(
      path.join(stateDir, 'config.json'),
      JSON.stringify({ models: { 'openai/test-model': { images: true, prices: { input: 1, output: 2 } } } }),
    );
    d = await startTestDaemon({
      web: false,
      stateDir,
      env: openaiEnv(model),
    });
    ws = await makeTempDir('acpws');
    await writeFile(path.join(ws, 'a.txt'), 'one\ntwo\n');
    await writeFile(path.join(ws, 'AGENTS.md'), 'Use two spaces.\n');
    e = connectEditor(d.env);
    const init = await e.agent.request('initialize', {
      protocolVersion: 1,
      clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, session: { compaction: {} } },
    });
    expect(init.agentCapabilities?.promptCapabilities?.image).toBe(true);
    sessionId = (await e.agent.request('session/new', { cwd: ws, mcpServers: [] })).sessionId;
  });
  afterAll(async () => {
    await e?.proc.close();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it('advertises the slash commands declared in the protocol', async () => {
    expect(await until(() => of(e, sessionId, 'available_commands_update').length > 0)).toBe(true);
    const names = of(e, sessionId, 'available_commands_update')[0].availableCommands.map((c) => c.name);
    expect(names).toEqual(['review', 'accept', 'reject', 'undo', 'rewind', 'compact', 'mode', 'model', 'init']);
    const accept = of(e, sessionId, 'available_commands_update')[0].availableCommands.find((c) => c.name === 'accept');
    expect(accept?.input).toMatchObject({ hint: expect.stringContaining('FILE#HUNK') });
  });

  it('a plan becomes ACP plan updates; usage becomes usage_update with the session cost; instruction files are shown', async () => {
    model.push(
      {
        toolCalls: [
          { name: 'plan', arguments: { items: [{ content: 'edit a.txt', status: 'in_progress' }] } },
          { name: 'write_file', arguments: { path: 'a.txt', content: 'ONE\ntwo\n' } },
        ],
        usage: { input: 1000, output: 100 },
      },
      {
        toolCalls: [{ name: 'plan', arguments: { items: [{ content: 'edit a.txt', status: 'done' }] } }],
        usage: { input: 2000, output: 100 },
      },
      { text: ['edited'], usage: { input: 3000, output: 100 } },
    );
    const r = await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: 'edit a.txt' }] });
    expect(r.stopReason).toBe('end_turn');
    // The turn's tokens in ACP's (unstable) PromptResponse.usage.
    expect((r as { usage?: unknown }).usage).toEqual({ totalTokens: 6300, inputTokens: 6000, outputTokens: 300 });
    const plans = of(e, sessionId, 'plan');
    expect(plans.map((p) => p.entries.map((x) => x.status))).toEqual([['in_progress'], ['completed']]);
    const usage = of(e, sessionId, 'usage_update');
    expect(usage.map((u) => u.used)).toEqual([1000, 2000, 3000]);
    expect(usage.at(-1)?.size).toBeGreaterThan(0);
    // (1000+2000+3000)·1 + 300·2 = 6600 per million.
    expect(usage.at(-1)?.cost).toEqual({ amount: 0.0066, currency: 'USD' });
    // The instruction files in effect: a thought for people, the list in _meta.
    const thoughts = of(e, sessionId, 'agent_thought_chunk');
    const shown = thoughts.find((t) => t.content.type === 'text' && t.content.text.includes('Instruction files'));
    expect(shown?.content).toMatchObject({ text: 'Instruction files in effect: AGENTS.md\n' });
    expect(shown?._meta).toMatchObject({ shadowbox: { instructions: [{ path: 'AGENTS.md', scope: 'workspace' }] } });
  });

  it('/review, /accept FILE#HUNK and /undo drive the review gate from the prompt box', async () => {
    await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: '/review' }] });
    const review = said(e, sessionId);
    const hunk = /`(a\.txt#[0-9a-f]+)`/.exec(review)?.[1];
    expect(hunk).toBeDefined();
    expect(review).toContain('```diff');
    await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: `/accept ${hunk}` }] });
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('ONE\ntwo\n');
    await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: '/undo' }] });
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('one\ntwo\n');
    // A refusal is told as the agent's message, not a protocol error.
    const r = await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: '/mode yolo' }] });
    expect(r.stopReason).toBe('end_turn');
    expect(said(e, sessionId)).toContain('bad_command_arguments');
  });

  it('/compact sends compaction_update to an editor that declared session.compaction; images reach the model', async () => {
    model.push({ text: ['second answer'] });
    await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: 'another turn' }] });
    model.push({ text: ['## Task\nEdit a.txt.'] });
    await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: '/compact' }] });
    const c = of(e, sessionId, 'compaction_update');
    expect(c).toHaveLength(1);
    expect(c[0].status).toBe('completed');
    expect(JSON.stringify(c[0].summary)).toContain('Edit a.txt.');

    model.push({ text: ['a dot'] });
    await e.agent.request('session/prompt', {
      sessionId,
      prompt: [
        { type: 'text', text: 'what is in the picture?' },
        { type: 'image', mimeType: 'image/png', data: PNG },
      ],
    });
    expect(JSON.stringify(model.requests.at(-1)!.body)).toContain(`data:image/png;base64,${PNG}`);
    await expect(
      e.agent.request('session/prompt', {
        sessionId,
        prompt: [
          { type: 'text', text: 'and this?' },
          { type: 'image', mimeType: 'image/tiff', data: PNG },
        ],
      }),
    ).rejects.toMatchObject({ code: -32602 });
  });
});
