import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '@shadowbox/protocol';
import type { CodeAction, CodeLens, Hover, InitializeResult } from 'vscode-languageserver';
import { fakeDaemon, fakeEditor, hunk, modified, until, type FakeEditor } from './test-support.js';

const A = 'file:///ws/a.txt';
const A_TEXT = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\n';
const H3 = hunk('a.txt', 1, [' one', ' two', '-three', '+THREE', ' four', ' five', ' six']);

const editors: FakeEditor[] = [];
afterEach(() => {
  for (const e of editors.splice(0)) e.exit();
});

/** A daemon with one session whose agent changed line 3 of a.txt, and an editor on the server. */
async function setup(
  opts: { applyEdit?: boolean; files?: Parameters<ReturnType<typeof fakeDaemon>['addSession']>[1] } = {},
) {
  const daemon = fakeDaemon();
  daemon.addSession('s1', opts.files ?? [modified('a.txt', [H3])], { real: { 'a.txt': A_TEXT } });
  const editor = fakeEditor(async () => daemon.connect());
  editors.push(editor);
  await editor.initialize({ applyEdit: opts.applyEdit ?? true });
  await editor.server.ready;
  await editor.server.idle();
  return { daemon, editor };
}
const actionsAt = (e: FakeEditor, uri: string, line: number) =>
  e.conn.sendRequest<CodeAction[]>('textDocument/codeAction', {
    textDocument: { uri },
    range: { start: { line, character: 0 }, end: { line, character: 0 } },
    context: { diagnostics: e.diagnostics.get(uri) ?? [] },
  });
const run = (e: FakeEditor, a: CodeAction) => e.conn.sendRequest('workspace/executeCommand', a.command!);

describe('shadowbox lsp over an in-memory connection', () => {
  it('answers initialize before the daemon is reached, then publishes a diagnostic per pending hunk of files never opened', async () => {
    const daemon = fakeDaemon();
    daemon.addSession('s1', [modified('a.txt', [H3])]);
    let letDaemonIn: () => void = () => {};
    const gate = new Promise<void>((r) => (letDaemonIn = r));
    const editor = fakeEditor(async () => (await gate, daemon.connect()));
    editors.push(editor);
    const init = (await editor.initialize()) as InitializeResult;
    expect(init.capabilities).toMatchObject({
      hoverProvider: true,
      codeLensProvider: {},
      executeCommandProvider: { commands: ['shadowbox.accept', 'shadowbox.reject', 'shadowbox.undo'] },
    });
    expect(daemon.calls).toEqual([]);
    letDaemonIn();
    const diags = await until(() => editor.diagnostics.get(A), 'diagnostics of a.txt');
    expect(diags).toEqual([
      {
        range: { start: { line: 2, character: 0 }, end: { line: 2, character: 5 } },
        severity: 3,
        source: 'shadowbox',
        code: H3.id,
        message: 'agent replaces 1 line with 1 line: "three" → "THREE"',
        data: { hunk: H3.id },
      },
    ]);
    expect(daemon.callsOf('session/attach')).toEqual([{ sessionId: 's1', fromSeq: 0 }]);
  });

  it('places the hunk in the open buffer: unsaved lines above it move the diagnostic', async () => {
    const { editor } = await setup();
    await editor.open(A, `mine 1\nmine 2\n${A_TEXT}`);
    await until(() => editor.diagnostics.get(A)?.[0]?.range.start.line === 4, 'the diagnostic on line 5');
    await editor.type(A, `mine 1\n${A_TEXT}`);
    await until(() => editor.diagnostics.get(A)?.[0]?.range.start.line === 3, 'the diagnostic on line 4');
  });

  it('offers accept/reject for the hunk under the cursor, and for the whole file anywhere in it', async () => {
    const { editor } = await setup();
    expect((await actionsAt(editor, A, 2)).map((a) => a.title)).toEqual([
      'Accept agent change',
      'Reject agent change',
      'Accept all in file',
      'Reject all in file',
    ]);
    expect((await actionsAt(editor, A, 6)).map((a) => a.title)).toEqual(['Accept all in file', 'Reject all in file']);
    expect(await actionsAt(editor, 'file:///ws/other.txt', 0)).toEqual([]);
    const lenses = await editor.conn.sendRequest<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: A } });
    expect(lenses.map((l) => [l.range.start.line, l.command?.title, l.command?.arguments])).toEqual([
      [2, 'Accept', [{ uri: A, hunks: [H3.id] }]],
      [2, 'Reject', [{ uri: A, hunks: [H3.id] }]],
    ]);
  });

  it('hovers the hunk with its diff in a fence that backticks in the agent text cannot close', async () => {
    const tricky = hunk('a.txt', 1, [' one', '-two', '+```', '+[x](command:evil)', ' three']);
    const { editor } = await setup({ files: [modified('a.txt', [tricky])] });
    const h = await editor.conn.sendRequest<Hover>('textDocument/hover', {
      textDocument: { uri: A },
      position: { line: 1, character: 0 },
    });
    const md = (h.contents as { value: string }).value;
    expect(md).toContain('````diff\n@@ -1,3 +1,4 @@\n one\n-two\n+```\n+[x](command:evil)\n three\n````');
    expect(
      await editor.conn.sendRequest('textDocument/hover', {
        textDocument: { uri: A },
        position: { line: 5, character: 0 },
      }),
    ).toBeNull();
  });

  it('accept of a file that is not open: the daemon writes it (shadow/accept with the hunk id) and the diagnostic goes', async () => {
    const { daemon, editor } = await setup();
    const [accept] = await actionsAt(editor, A, 2);
    expect(await run(editor, accept)).toEqual({
      via: 'daemon',
      applied: [{ path: 'a.txt', action: 'written' }],
      conflicts: [],
    });
    expect(daemon.callsOf('shadow/accept')).toEqual([{ sessionId: 's1', hunks: [H3.id] }]);
    await until(() => editor.diagnostics.get(A)?.length === 0, 'a.txt cleared');
    expect(editor.edits).toEqual([]);
  });

  it('accept in a buffer with unsaved edits edits the buffer only (keeping them); the save records it with the daemon', async () => {
    const { daemon, editor } = await setup();
    await editor.open(A, `unsaved\n${A_TEXT}`);
    await until(() => editor.diagnostics.get(A)?.[0]?.range.start.line === 3, 'diagnostic placed in the buffer');
    const [accept] = await actionsAt(editor, A, 3);
    expect(await run(editor, accept)).toEqual({ via: 'buffer', hunks: [H3.id] });
    expect(editor.buffers.get(A)!.getText()).toBe(`unsaved\n${A_TEXT.replace('three', 'THREE')}`);
    expect(daemon.callsOf('shadow/accept')).toEqual([]);
    // Until it is saved the change shows as a hint, with no actions left for it.
    const hint = await until(() => editor.diagnostics.get(A)?.find((d) => d.severity === 4), 'the hint');
    expect(hint.message).toBe('agent change accepted in this buffer: save to write it');
    expect(await actionsAt(editor, A, 3)).toEqual([]);
    await editor.save(A);
    await until(() => daemon.callsOf('shadow/accept').length === 1, 'the save recorded');
    expect(daemon.callsOf('shadow/accept')).toEqual([{ sessionId: 's1', hunks: [H3.id] }]);
    await until(() => editor.diagnostics.get(A)?.length === 0, 'a.txt cleared');
  });

  it('an accept undone in the buffer before saving is not recorded: the hunk is pending again', async () => {
    const { daemon, editor } = await setup();
    await editor.open(A, A_TEXT);
    await run(editor, (await actionsAt(editor, A, 2))[0]);
    await editor.type(A, A_TEXT);
    await editor.save(A);
    await until(() => editor.diagnostics.get(A)?.[0]?.severity === 3, 'pending again');
    expect(daemon.callsOf('shadow/accept')).toEqual([]);
  });

  it('refuses an accept whose lines the person edited in the buffer, and changes nothing', async () => {
    const { daemon, editor } = await setup();
    await editor.open(A, A_TEXT.replace('three', 'three (mine)'));
    const [accept] = await actionsAt(editor, A, 2);
    await expect(run(editor, accept)).rejects.toMatchObject({
      code: ErrorCodes.HunkNotFound,
      data: { reason: 'hunk_does_not_apply' },
    });
    expect(editor.buffers.get(A)!.getText()).toBe(A_TEXT.replace('three', 'three (mine)'));
    expect(daemon.callsOf('shadow/accept')).toEqual([]);
    expect(editor.messages.at(-1)?.message).toContain('were edited in your buffer');
  });

  it('an editor that cannot apply edits: the daemon writes a clean buffer, and a dirty one is refused', async () => {
    const { daemon, editor } = await setup({ applyEdit: false });
    await editor.open(A, `${A_TEXT}unsaved\n`);
    await expect(run(editor, (await actionsAt(editor, A, 2))[0])).rejects.toMatchObject({
      code: ErrorCodes.ReviewStale,
      data: { reason: 'unsaved_buffer' },
    });
    expect(daemon.callsOf('shadow/accept')).toEqual([]);
    await editor.type(A, A_TEXT);
    expect(await run(editor, (await actionsAt(editor, A, 2))[0])).toMatchObject({ via: 'daemon' });
    expect(daemon.callsOf('shadow/accept')).toEqual([{ sessionId: 's1', hunks: [H3.id] }]);
  });

  it('deleted, moved and added files: a diagnostic on line 1 saying so, and accept/reject of the whole file', async () => {
    const { daemon, editor } = await setup({
      files: [
        { path: 'gone.txt', change: 'deleted', binary: false, stale: false, patch: '', hunks: [] },
        {
          path: 'new/name.txt',
          oldPath: 'old.txt',
          change: 'renamed',
          binary: false,
          stale: false,
          patch: '',
          hunks: [],
        },
        {
          path: 'added.txt',
          change: 'added',
          binary: false,
          stale: false,
          patch: '',
          hunks: [hunk('added.txt', 0, ['+a', '+b'])],
        },
      ],
    });
    const line1 = (uri: string) => editor.diagnostics.get(uri)?.[0];
    await until(() => line1('file:///ws/added.txt'), 'added.txt');
    expect(line1('file:///ws/gone.txt')).toMatchObject({
      range: { start: { line: 0 } },
      message: 'agent deletes this file',
    });
    expect(line1('file:///ws/old.txt')?.message).toBe('agent moves this file to new/name.txt');
    expect(line1('file:///ws/added.txt')?.message).toBe('agent adds this file (2 lines)');
    const actions = await actionsAt(editor, 'file:///ws/old.txt', 0);
    expect(actions.map((a) => a.title)).toEqual(['Accept agent change', 'Reject agent change']);
    await run(editor, actions[0]);
    expect(daemon.callsOf('shadow/accept')).toEqual([{ sessionId: 's1', paths: ['new/name.txt'] }]);
    await run(editor, (await actionsAt(editor, 'file:///ws/gone.txt', 0))[1]);
    expect(daemon.callsOf('shadow/reject')).toEqual([{ sessionId: 's1', paths: ['gone.txt'] }]);
    await until(
      () =>
        editor.diagnostics.get('file:///ws/old.txt')?.length === 0 &&
        editor.diagnostics.get('file:///ws/gone.txt')?.length === 0,
      'cleared',
    );
  });

  it('an accept from another client (terminal, web, ACP) refreshes the diagnostics from its review event', async () => {
    const { daemon, editor } = await setup();
    await until(() => editor.diagnostics.get(A)?.length === 1, 'the diagnostic');
    const other = daemon.connect();
    await other.initialize({ name: 'terminal', kind: 'terminal' });
    await other.request({ method: 'shadow/accept' } as never, { sessionId: 's1', hunks: [H3.id] } as never);
    await until(() => editor.diagnostics.get(A)?.length === 0, 'a.txt cleared after the other accept');
    other.dispose();
  });

  it('a turn: $/progress from turn_start to turn_end, a message when it ends with changes pending', async () => {
    const { daemon, editor } = await setup({ files: [] });
    await daemon.emit('s1', { type: 'turn_start', turnId: 't1', model: 'm' });
    await until(() => editor.progress.length >= 1, 'progress begin');
    await daemon.emit('s1', {
      type: 'tool_call',
      turnId: 't1',
      callId: 'c1',
      tool: 'edit_file',
      kind: 'edit',
      summary: 'edit a.txt',
      input: {},
      status: 'pending',
    });
    daemon.sessions.get('s1')!.files = [modified('a.txt', [H3])];
    await daemon.emit('s1', {
      type: 'tool_call_update',
      turnId: 't1',
      callId: 'c1',
      status: 'completed',
      changed: ['a.txt'],
    });
    await until(() => editor.diagnostics.get(A)?.length === 1, 'the new hunk shown during the turn');
    await daemon.emit('s1', { type: 'turn_end', turnId: 't1', stopReason: 'end_turn' });
    const msg = await until(() => editor.messages.find((m) => m.message.includes('pending')), 'the message');
    expect(msg).toEqual({
      type: 3,
      message:
        "shadowbox: the agent's turn ended; 1 change pending in 1 file (a.txt) — accept or reject them with code actions",
    });
    await until(
      () => editor.progress.some((p) => (p as { value: { kind: string } }).value.kind === 'end'),
      'progress end',
    );
    const kinds = editor.progress.map((p) => (p as { value: { kind: string; message?: string } }).value);
    expect(kinds).toEqual([
      { kind: 'begin', title: 'shadowbox', message: 'the agent is working', cancellable: false },
      { kind: 'report', message: 'edit a.txt' },
      { kind: 'end' },
    ]);
  });

  it('a workspace without pending changes stays silent, also when a turn ends with nothing pending', async () => {
    const { daemon, editor } = await setup({ files: [] });
    await daemon.emit('s1', { type: 'turn_start', turnId: 't1', model: 'm' });
    await daemon.emit('s1', { type: 'turn_end', turnId: 't1', stopReason: 'end_turn' });
    await until(() => daemon.callsOf('shadow/diff').length >= 2, 'the refresh after the turn');
    await editor.server.idle();
    expect(editor.diagnostics.size).toBe(0);
    expect(editor.messages).toEqual([]);
  });

  it('follows the session named in initializationOptions, else the newest one with pending changes', async () => {
    const daemon = fakeDaemon();
    daemon.addSession('old', [modified('a.txt', [H3])]);
    daemon.addSession('newer-empty', []);
    const e1 = fakeEditor(async () => daemon.connect());
    editors.push(e1);
    await e1.initialize();
    await e1.server.ready;
    expect(daemon.callsOf('session/attach').map((c) => c.sessionId)).toEqual(['old']);
    const e2 = fakeEditor(async () => daemon.connect());
    editors.push(e2);
    await e2.initialize({ session: 'newer-empty' });
    await e2.server.ready;
    expect(daemon.callsOf('session/attach').map((c) => c.sessionId)).toEqual(['old', 'newer-empty']);
  });

  it('moves to a newer session only once the followed one has nothing pending', async () => {
    const { daemon, editor } = await setup();
    daemon.addSession('s2', [modified('b.txt', [hunk('b.txt', 1, ['-x', '+y'])])]);
    await editor.server.poll();
    expect(daemon.callsOf('session/attach').map((c) => c.sessionId)).toEqual(['s1']);
    await run(editor, (await actionsAt(editor, A, 2))[0]);
    await until(() => editor.diagnostics.get(A)?.length === 0, 'a.txt done');
    await editor.server.poll();
    expect(daemon.callsOf('session/attach').map((c) => c.sessionId)).toEqual(['s1', 's2']);
    expect(daemon.callsOf('session/detach')).toEqual([{ sessionId: 's1' }]);
    await until(() => editor.diagnostics.get('file:///ws/b.txt')?.length === 1, 'b.txt of the newer session');
  });

  it('never shows (or edits) a path outside the workspace, and refuses malformed command arguments', async () => {
    const { editor } = await setup({
      files: [modified('../escape.txt', [hunk('../escape.txt', 1, ['-a', '+b'])]), modified('a.txt', [H3])],
    });
    await until(() => editor.diagnostics.get(A), 'a.txt');
    expect([...editor.diagnostics.keys()]).toEqual([A]);
    const exec = (command: string, args: unknown[]) =>
      editor.conn.sendRequest('workspace/executeCommand', { command, arguments: args });
    await expect(exec('shadowbox.accept', [{ uri: 'file:///escape.txt' }])).rejects.toMatchObject({
      code: ErrorCodes.HunkNotFound,
      data: { reason: 'not_pending' },
    });
    await expect(exec('shadowbox.accept', [{ hunks: 'all' }])).rejects.toMatchObject({
      code: ErrorCodes.InvalidParams,
      data: { reason: 'invalid_command_arguments' },
    });
    await expect(exec('shadowbox.other', [])).rejects.toMatchObject({ data: { reason: 'unknown_command' } });
    await expect(exec('shadowbox.accept', [{ uri: A, hunks: ['a.txt#nope'] }])).rejects.toMatchObject({
      data: { reason: 'unknown_hunk' },
    });
  });

  it('a stale file that is not open is placed in its saved text (read through shadow/file), and follows workspace/changed', async () => {
    const daemon = fakeDaemon();
    const s = daemon.addSession('s1', [modified('a.txt', [H3], true)], {
      real: { 'a.txt': `new first line\n${A_TEXT}` },
    });
    const editor = fakeEditor(async () => daemon.connect());
    editors.push(editor);
    await editor.initialize();
    const d = await until(() => editor.diagnostics.get(A)?.[0], 'the diagnostic');
    expect(d.range.start.line).toBe(3);
    expect(daemon.callsOf('shadow/file')).toEqual([{ sessionId: 's1', path: 'a.txt' }]);
    // The person edits the file on disk again: the daemon's workspace/changed brings a fresh placement.
    s.real.set('a.txt', `1\n2\n${A_TEXT}`);
    await daemon.workspaceChanged(['a.txt']);
    await until(() => editor.diagnostics.get(A)?.[0]?.range.start.line === 4, 'placed after the edit on disk');
  });

  it('undo (shadowbox.undo) is relayed to the daemon and the restored hunk shows again', async () => {
    const { daemon, editor } = await setup();
    await run(editor, (await actionsAt(editor, A, 2))[0]);
    await until(() => editor.diagnostics.get(A)?.length === 0, 'accepted');
    expect(await editor.conn.sendRequest('workspace/executeCommand', { command: 'shadowbox.undo' })).toEqual({
      via: 'daemon',
      restored: ['a.txt'],
    });
    expect(daemon.callsOf('shadow/undo')).toEqual([{ sessionId: 's1' }]);
    await until(() => editor.diagnostics.get(A)?.length === 1, 'pending again');
  });

  it('an editor that declines the edit: edit_refused, and the hunk stays pending', async () => {
    const { daemon, editor } = await setup();
    await editor.open(A, A_TEXT);
    editor.refuseEdits = true;
    await expect(run(editor, (await actionsAt(editor, A, 2))[0])).rejects.toMatchObject({
      code: ErrorCodes.ShadowFailed,
      data: { reason: 'edit_refused' },
    });
    expect(daemon.callsOf('shadow/accept')).toEqual([]);
    expect((await actionsAt(editor, A, 2)).map((a) => a.title)).toContain('Accept agent change');
  });

  it('a workspace with no session: commands say so (no_session_for_workspace) and nothing is shown', async () => {
    const daemon = fakeDaemon();
    const editor = fakeEditor(async () => daemon.connect());
    editors.push(editor);
    await editor.initialize();
    await editor.server.ready;
    await expect(
      editor.conn.sendRequest('workspace/executeCommand', { command: 'shadowbox.undo' }),
    ).rejects.toMatchObject({
      code: ErrorCodes.SessionNotFound,
      data: { reason: 'no_session_for_workspace' },
    });
    expect(editor.diagnostics.size).toBe(0);
  });

  it('the daemon going away clears the diagnostics and says so; its return brings them back', async () => {
    const daemon = fakeDaemon();
    daemon.addSession('s1', [modified('a.txt', [H3])]);
    const editor = fakeEditor(async () => daemon.connect(), {
      reconnectDaemon: async () => {
        const c = daemon.connect();
        await c.initialize({ name: 'shadowbox-lsp', kind: 'editor' });
        return c;
      },
    });
    editors.push(editor);
    await editor.initialize();
    await until(() => editor.diagnostics.get(A)?.length === 1, 'shown');
    daemon.close();
    await until(() => editor.diagnostics.get(A)?.length === 0, 'cleared');
    // The message travels on its own after the cleared diagnostics: awaited, not assumed to be there already.
    await until(() => editor.messages.some((m) => m.message.includes('connection closed')), 'the message');
    expect(editor.messages.at(-1)).toEqual({
      type: 2,
      message: 'shadowbox: the daemon connection closed; reconnecting when it is back',
    });
    await editor.server.poll();
    await until(() => editor.diagnostics.get(A)?.length === 1, 'shown again');
  });
});
