// Slash commands and keys inside a running chat, end to end: /model, /mode, /attach ID, Ctrl-C while a
// permission question is open, and NO_COLOR — the real shadowbox binary in tmux against a real daemon whose
// model is the scripted model server.
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PolicySetRules,
  SessionAttach,
  SessionCreate,
  SessionList,
  SessionPrompt,
  ShadowDiff,
} from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { count, haveTmux, Tmux } from './tmux.js';

const hasTmux = await haveTmux();
if (!hasTmux) console.warn('test/terminal: tmux is not installed (apt-get install tmux); skipping the terminal tests');

/** Any SGR (color / bold / inverse…) escape sequence. */
const SGR = /\x1b\[[0-9;]*m/;

describe.skipIf(!hasTmux)('chat commands and keys in a real terminal (tmux, real daemon, scripted model)', () => {
  let d: TestDaemon;
  let model: ModelServer;
  const dirs: string[] = [];
  const tmux = new Tmux(`sbx-cmds-${process.pid}`);

  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
  });
  afterAll(async () => {
    await tmux.kill();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function workspace(files: Record<string, string> = {}): Promise<string> {
    const ws = await makeTempDir('ws');
    dirs.push(ws);
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(ws, name), text);
    return ws;
  }
  async function startChat(name: string, ws: string, env: NodeJS.ProcessEnv = d.env): Promise<string> {
    await tmux.start(name, ['chat', '--workspace', ws], env);
    const screen = await tmux.waitFor(name, /◆ session (\S+) .*you are the driver/);
    return /◆ session (\S+) /.exec(screen)![1];
  }
  async function askForWrites(ws: string): Promise<void> {
    const admin = await d.connect('admin');
    await admin.request(PolicySetRules, { workspace: ws, add: [{ action: 'ask', tool: 'write_file' }] });
    admin.dispose();
  }

  it('/model openai/other: the next prompt asks the model "other" and session/list shows it', async () => {
    const ws = await workspace();
    const sessionId = await startChat('m', ws);
    await tmux.line('m', '/model');
    await tmux.waitFor('m', 'model openai/test-model · mode review');

    await tmux.line('m', '/model openai/other');
    // The daemon's settings_changed event is printed.
    await tmux.waitFor('m', 'model openai/other · mode review');
    model.push({ text: ['Answered ', 'by other.'] });
    const before = model.requests.length;
    await tmux.line('m', 'who are you?');
    await tmux.waitFor('m', (s) => s.includes('Answered by other.') && s.includes('— done'));
    expect(model.requests.length).toBe(before + 1);
    expect((model.requests.at(-1)!.body as { model?: string }).model).toBe('other');

    const admin = await d.connect('admin');
    const list = await admin.request(SessionList, { workspace: ws });
    admin.dispose();
    expect(list.sessions.find((s) => s.sessionId === sessionId)?.model).toBe('openai/other');
    // /model without an argument shows the new setting.
    await tmux.line('m', '/model');
    await tmux.waitFor('m', (s) => count(s, 'model openai/other · mode review') >= 2);
    await tmux.keys('m', 'C-d');
    await tmux.waitFor('m', '[exit 0]');
  });

  it('/mode read-only: a write_file the model calls is denied on screen and nothing reaches the shadow workspace', async () => {
    const ws = await workspace({ 'keep.txt': 'keep\n' });
    const sessionId = await startChat('r', ws);
    await tmux.line('r', '/mode read-only');
    await tmux.waitFor('r', 'model openai/test-model · mode read-only');
    model.push(
      {
        text: ['Writing ', 'new.txt.'],
        toolCalls: [{ name: 'write_file', arguments: { path: 'new.txt', content: 'should not exist\n' } }],
      },
      { text: ['The write ', 'was refused.'] },
    );
    await tmux.line('r', 'create new.txt');
    const screen = await tmux.waitFor('r', (s) => s.includes('The write was refused.') && s.includes('— done'));
    // The call's duration is "N ms", or "N.N s" on a machine slow enough (formatDuration).
    expect(screen).toMatch(
      /✗ edit\s+write_file new\.txt \(17 bytes\) · \d+(?: ms|\.\d s) denied \(mode:read-only kind:edit\)\n/,
    );
    // No question was asked and no checkpoint was made.
    expect(screen).not.toContain('? permission');
    expect(screen).not.toContain('changed in the shadow workspace');
    // The model was told (the tool result in its next request says so).
    expect(JSON.stringify(model.requests.at(-1)!.body)).toMatch(/denied|not allowed|read-only/i);

    const admin = await d.connect('admin');
    const diff = await admin.request(ShadowDiff, { sessionId });
    admin.dispose();
    expect(diff.files.map((f) => f.path)).not.toContain('new.txt');
    await expect(access(path.join(ws, 'new.txt'))).rejects.toThrow();
    await tmux.keys('r', 'C-d');
    await tmux.waitFor('r', '[exit 0]');
  });

  it('/attach ID switches to another session: its history is shown and the next prompt goes to it', async () => {
    const wsA = await workspace();
    const wsB = await workspace();
    // Session B gets a history from another client, which then leaves (B has no driver).
    const other = await d.connect('other');
    const b = await other.request(SessionCreate, { workspace: wsB });
    model.push({ text: ['Reply in ', 'session B.'] });
    await other.request(SessionPrompt, { sessionId: b.sessionId, text: 'hello B from elsewhere' });
    other.dispose();

    const sessionA = await startChat('t', wsA);
    expect(sessionA).not.toBe(b.sessionId);
    await tmux.line('t', `/attach ${b.sessionId}`);
    const screen = await tmux.waitFor('t', new RegExp(`◆ session ${b.sessionId} .*you are the driver`));
    const switched = screen.slice(screen.lastIndexOf(`/attach ${b.sessionId}`));
    expect(switched).toContain('hello B from elsewhere');
    expect(switched).toContain('Reply in session B.');
    expect(switched).toContain(`left session ${sessionA} (kept by the daemon — /attach ${sessionA} to go back)`);
    // The role is stated once, on the ◆ session line.
    expect(switched).not.toMatch(/^◆ you are the driver$/m);

    model.push({ text: ['Second ', 'reply in B.'] });
    await tmux.line('t', 'and again');
    await tmux.waitFor('t', (s) => s.includes('Second reply in B.') && count(s, '— done') >= 2);
    // The prompt went to B (its history has it) and A got nothing.
    const admin = await d.connect('admin');
    // (listed before this client attaches anywhere: an attach to a driverless session makes it the driver)
    const list = await admin.request(SessionList, {});
    const histB = await admin.request(SessionAttach, { sessionId: b.sessionId, fromSeq: 0 });
    const histA = await admin.request(SessionAttach, { sessionId: sessionA, fromSeq: 0 });
    admin.dispose();
    const prompts = (h: typeof histB) =>
      h.history.flatMap((e) => (e.event.type === 'user_message' ? [e.event.text] : []));
    expect(prompts(histB)).toEqual(['hello B from elsewhere', 'and again']);
    expect(prompts(histA)).toEqual([]);
    // The terminal left A (detached, not ended) and is on B.
    const info = (id: string) => list.sessions.find((s) => s.sessionId === id)!;
    const me = info(b.sessionId).driver;
    expect(me).not.toBeNull();
    expect(info(b.sessionId).attached).toContain(me);
    expect(info(sessionA).attached).not.toContain(me);
    expect(info(sessionA).driver).toBeNull();
    await tmux.keys('t', 'C-d');
    const end = await tmux.waitFor('t', '[exit 0]');
    expect(end).toContain(`session ${b.sessionId} is kept by the daemon`);
  });

  it('Ctrl-C while a permission question is open withdraws it, cancels the turn, and the chat stays usable', async () => {
    const ws = await workspace({ 'q.txt': 'q\n' });
    await askForWrites(ws);
    const sessionId = await startChat('q', ws);
    model.push(
      {
        text: ['About to ', 'write.'],
        toolCalls: [{ name: 'write_file', arguments: { path: 'q.txt', content: 'changed\n' } }],
      },
      { text: ['Still ', 'usable.'] },
    );
    await tmux.line('q', 'change q');
    await tmux.waitFor('q', '[y] allow once');
    await tmux.waitFor('q', /\? answer \[[^\n]*$/);
    await tmux.keys('q', 'C-c');
    await tmux.waitFor('q', '⊘ turn cancelled');
    // The question is gone from the bottom line; the prompt is back.
    const screen = await tmux.waitFor('q', /⊘ turn cancelled[\s\S]*\n›$/);
    expect(screen).toContain('→ cancelled');
    // The call is reported as cancelled (not as denied by the rule that asked).
    // Its duration runs until the Ctrl-C, so past a second ("1.4 s") on a slow machine.
    expect(screen).toMatch(/✗ edit\s+write_file q\.txt .*· \d+(?: ms|\.\d s) cancelled\n/);
    expect(screen).not.toMatch(/\? answer \[[^\n]*$/);
    expect(screen).not.toContain('(Ctrl-C again or Ctrl-D to exit');

    const admin = await d.connect('admin');
    const h = await admin.request(SessionAttach, { sessionId, fromSeq: 0 });
    const diff = await admin.request(ShadowDiff, { sessionId });
    admin.dispose();
    const kinds = h.history.map((e) => e.event);
    expect(kinds.some((e) => e.type === 'permission_resolved' && e.outcome === 'cancelled')).toBe(true);
    expect(kinds.some((e) => e.type === 'turn_end' && e.stopReason === 'cancelled')).toBe(true);
    expect(diff.files).toEqual([]);
    expect(await readFile(path.join(ws, 'q.txt'), 'utf8')).toBe('q\n');

    // A keypress meant for the withdrawn question does nothing; the next prompt runs normally.
    await tmux.line('q', 'still there?');
    await tmux.waitFor('q', (s) => s.includes('Still usable.') && s.includes('— done'));
    expect(JSON.stringify(model.requests.at(-1)!.body)).toContain('still there?');
    await tmux.keys('q', 'C-d');
    await tmux.waitFor('q', '[exit 0]');
  });

  it('NO_COLOR=1: no color escapes while streaming, asking or reviewing (the same run without it is colored)', async () => {
    const run = async (
      name: string,
      env: NodeJS.ProcessEnv,
    ): Promise<{ streaming: string; asking: string; review: string }> => {
      const ws = await workspace({ 'c.txt': 'one\ntwo\n' });
      await askForWrites(ws);
      await startChat(name, ws, env);
      // The stream ends once the mid-stream screen is captured, not after a delay a slow machine could outlast.
      let captured!: () => void;
      const streamingCaptured = new Promise<void>((r) => (captured = r));
      model.push(
        {
          text: [
            '# Heading\n',
            'Some **bold** ',
            'and `code`.\n',
            ...Array.from({ length: 6 }, (_, i) => `chunk ${i} `),
          ],
          delayMs: 150,
          holdUntil: streamingCaptured,
          toolCalls: [{ name: 'write_file', arguments: { path: 'c.txt', content: 'one\nTWO\n' } }],
        },
        { text: ['Done.'] },
      );
      await tmux.line(name, 'color test');
      // Mid-stream: the live line, the working line and already rendered markdown are on screen.
      await tmux.waitFor(name, 'chunk 1 ');
      const streaming = await tmux.captureColors(name);
      captured();
      await tmux.waitFor(name, '[y] allow once');
      const asking = await tmux.captureColors(name);
      await tmux.keys(name, 'y');
      await tmux.waitFor(name, '— done');
      await tmux.line(name, '/review');
      await tmux.waitFor(name, 'accept with /accept');
      const review = await tmux.captureColors(name);
      await tmux.keys(name, 'C-d');
      await tmux.waitFor(name, '[exit 0]');
      return { streaming, asking, review };
    };
    const colored = await run('k1', d.env);
    expect(colored.streaming).toMatch(SGR);
    expect(colored.asking).toMatch(SGR);
    expect(colored.review).toMatch(/\x1b\[32m\+(\x1b\[[0-9;]*m)*TWO/);

    const plain = await run('k2', { ...d.env, NO_COLOR: '1' });
    expect(plain.streaming).toContain('working ·');
    expect(plain.streaming).toContain('Heading');
    expect(plain.asking).toContain('? permission edit');
    expect(plain.review).toContain('+TWO');
    expect(plain.review).toContain('-two');
    for (const screen of [plain.streaming, plain.asking, plain.review]) expect(screen).not.toMatch(/\x1b/);
  });
});
