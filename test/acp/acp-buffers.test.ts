// Unsaved editor buffers: an editor that offers ACP fs.readTextFile serves its buffer of a file, and
// read_file shows that text to the model (the saved file differs); an editor without the capability,
// or one too slow to answer within the daemon's 300 ms, leaves the model the saved file; a file the
// agent changed in the shadow shows the agent's version (newer than the buffer).
import path from 'node:path';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadTextFileRequest, SessionNotification } from '@agentclientprotocol/sdk';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { connectEditor, type AcpEditor, type ReadTextFile } from './editor.js';

type Update = SessionNotification['update'];
/** The tool results the model received in one request (OpenAI wire format). */
const toolResults = (body: unknown) =>
  ((body as { messages: Array<{ role: string; content: unknown }> }).messages ?? [])
    .filter((m) => m.role === 'tool')
    .map((m) => String(m.content));
const SAVED = 'saved on disk\n';
const BUFFER = 'typed in the editor, not saved\n';

describe('shadowbox acp: the editor’s unsaved buffers (fs/read_text_file)', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let ws: string;
  const editors: AcpEditor[] = [];

  const editor = async (readTextFile: boolean, serve?: ReadTextFile) => {
    const e = connectEditor(d.env, serve ? { readTextFile: serve } : {});
    editors.push(e);
    await e.agent.request('initialize', {
      protocolVersion: 1,
      clientCapabilities: { fs: { readTextFile, writeTextFile: false } },
    });
    return e;
  };
  /** One prompt whose model calls read_file on a.txt, then ends; returns what the model got back and the call's duration. */
  const readThroughModel = async (e: AcpEditor, sessionId: string) => {
    model.push(
      { text: ['Reading.'], toolCalls: [{ name: 'read_file', arguments: { path: 'a.txt' } }] },
      { text: ['Read it.'] },
    );
    const before = model.requests.length;
    const t0 = performance.now();
    const r = await e.agent.request('session/prompt', { sessionId, prompt: [{ type: 'text', text: 'read a.txt' }] });
    const promptMs = performance.now() - t0;
    expect(r.stopReason).toBe('end_turn');
    const done = e.updates
      .filter((u) => u.sessionId === sessionId)
      .map((u) => u.update)
      .filter(
        (u): u is Extract<Update, { sessionUpdate: 'tool_call_update' }> =>
          u.sessionUpdate === 'tool_call_update' && u.status === 'completed',
      )
      .at(-1);
    return {
      result: toolResults(model.requests[before + 1].body).at(-1) ?? '',
      raw: done?.rawOutput as Record<string, unknown> | undefined,
      promptMs,
    };
  };

  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
    ws = await makeTempDir('acpbuf');
    await writeFile(path.join(ws, 'a.txt'), SAVED);
  });
  afterAll(async () => {
    for (const e of editors) await e.proc.kill();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    if (ws) await rm(ws, { recursive: true, force: true });
  });

  it('an editor with fs.readTextFile: read_file shows the buffer to the model; once the agent edits the file, its shadow version wins', async () => {
    const asked: ReadTextFileRequest[] = [];
    const e = await editor(true, async (p) => {
      asked.push(p);
      return { content: p.path === path.join(ws, 'a.txt') ? BUFFER : await readFile(p.path, 'utf8') };
    });
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    const first = await readThroughModel(e, s.sessionId);
    console.log(
      `prompt (two model requests) with one read_file through the editor's buffer: ${Math.round(first.promptMs)} ms`,
    );
    expect(first.result).toContain('typed in the editor, not saved');
    expect(first.result).not.toContain('saved on disk');
    expect(first.result).toContain('unsaved editor buffer');
    expect(first.raw).toMatchObject({ source: 'editor_buffer' });
    // The bridge asked the editor with the session and an absolute path under the editor's cwd.
    expect(asked).toEqual([expect.objectContaining({ sessionId: s.sessionId, path: path.join(ws, 'a.txt') })]);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe(SAVED);

    // The agent edits a.txt (review mode: into the shadow); reading it again shows the agent's version, not the buffer.
    model.push(
      {
        text: ['Editing.'],
        toolCalls: [
          {
            name: 'edit_file',
            arguments: { path: 'a.txt', old_string: 'saved on disk', new_string: 'edited by the agent' },
          },
        ],
      },
      { text: ['Edited.'] },
    );
    expect(
      (
        await e.agent.request('session/prompt', {
          sessionId: s.sessionId,
          prompt: [{ type: 'text', text: 'edit a.txt' }],
        })
      ).stopReason,
    ).toBe('end_turn');
    const second = await readThroughModel(e, s.sessionId);
    console.log(
      `the same prompt once the agent changed a.txt (buffer asked, shadow wins): ${Math.round(second.promptMs)} ms`,
    );
    expect(second.result).toContain('edited by the agent');
    expect(second.result).not.toContain('typed in the editor');
    expect(second.raw?.source).toBeUndefined();
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe(SAVED);
  });

  it('an editor without fs.readTextFile: read_file shows the saved file and the editor is never asked', async () => {
    let asked = 0;
    const e = await editor(false, async () => {
      asked += 1;
      return { content: BUFFER };
    });
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    const { result, promptMs } = await readThroughModel(e, s.sessionId);
    console.log(`prompt with one read_file, editor without readTextFile: ${Math.round(promptMs)} ms`);
    expect(result).toContain('saved on disk');
    expect(result).not.toContain('typed in the editor');
    expect(result).not.toContain('unsaved editor buffer');
    expect(asked).toBe(0);
  });

  it('a slow editor (no answer within 300 ms): read_file shows the saved file without waiting for it', async () => {
    let asked = 0;
    let withdrawn = false;
    // An editor that never answers: the turn ending at all shows it did not wait for the editor (and the
    // 300 ms bound itself is not asserted: only its outcome).
    const e = await editor(true, (_p, signal) => {
      asked += 1;
      signal.addEventListener('abort', () => (withdrawn = true));
      return new Promise<never>(() => undefined);
    });
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    const { result, promptMs } = await readThroughModel(e, s.sessionId);
    console.log(`prompt with one read_file, slow editor: ${Math.round(promptMs)} ms`);
    expect(result).toContain('saved on disk');
    expect(result).not.toContain('typed in the editor');
    expect(asked).toBe(1);
    // The daemon cancelled its buffer/read; the bridge withdrew the editor's request.
    await expect.poll(() => withdrawn).toBe(true);
  });
});
