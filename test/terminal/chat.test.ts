// The model-backed terminal scenarios: the real shadowbox binary in real terminals (tmux) against a real
// daemon whose model is the scripted model server.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicySetRules } from '@shadowbox/protocol';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { count, haveTmux, Tmux } from './tmux.js';

const hasTmux = await haveTmux();
if (!hasTmux) console.warn('test/terminal: tmux is not installed (apt-get install tmux); skipping the terminal tests');

const original = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
const edited = original.replace('line 2\n', 'line two, edited\n').replace('line 28\n', 'line twenty-eight, edited\n');

describe.skipIf(!hasTmux)('shadowbox chat in a real terminal (tmux, real daemon, scripted model)', () => {
  let d: TestDaemon;
  let ws: string;
  let model: ModelServer;
  const tmux = new Tmux(`sbx-chat-${process.pid}`);

  beforeAll(async () => {
    ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'notes.txt'), original);
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
    // Make write_file ask, so the turn shows a permission question (in mode review, shadow edits run unasked).
    await askForWrites(ws);
  });
  async function askForWrites(workspace: string): Promise<void> {
    const admin = await d.connect('admin');
    await admin.request(PolicySetRules, { workspace, add: [{ action: 'ask', tool: 'write_file' }] });
    admin.dispose();
  }
  afterAll(async () => {
    await tmux.kill();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    if (ws) await rm(ws, { recursive: true, force: true });
  });

  it('runs a multi-turn task with a tool call and a permission question, reviews, accepts one hunk, and cancels a slow stream', async () => {
    // Prompt 2's turn ends once /review has been queued behind it (not after a delay it could outlast on a slow machine).
    let endPrompt2!: () => void;
    const prompt2Queued = new Promise<void>((r) => (endPrompt2 = r));
    model.push(
      // Prompt 1, model turn 1: a tool call that edits two far-apart lines (two hunks).
      {
        text: ['I will update ', 'the **notes**.'],
        toolCalls: [{ name: 'write_file', arguments: { path: 'notes.txt', content: edited } }],
      },
      // Prompt 1, model turn 2 (after the tool result).
      { text: ['Updated `notes.txt`: ', 'two lines changed.'] },
      // Prompt 2 (multi-turn: same session).
      { text: ['That is all ', 'for ', 'now.'], delayMs: 400, holdUntil: prompt2Queued },
      // Prompt 3: a slow stream, cancelled with Ctrl-C.
      { text: Array.from({ length: 60 }, (_, i) => `slow chunk ${i} `), delayMs: 250, hang: true },
      // Prompt 4: the session still works after the cancel.
      { text: ['Still here.'] },
    );
    await tmux.start('a', ['chat', '--workspace', ws], d.env);
    await tmux.waitFor('a', 'you are the driver');

    // Prompt 1: streamed text, the tool call waits for permission. The project rule asks always, so only the
    // answers that take effect are offered (a remembered allow would not silence the rule).
    await tmux.line('a', 'update the notes');
    let screen = await tmux.waitFor('a', '[y] allow once  [n] deny');
    expect(screen).not.toContain('allow for this session');
    expect(screen).toContain('I will update the notes.');
    expect(screen).toMatch(/\? permission edit\s+write_file/);
    expect(screen).toContain('    path: notes.txt');
    // The write is shown as the diff it would make against the file as the agent has it, not as its content.
    expect(screen).not.toContain('content: (30 lines');
    expect(screen).toContain('    change (against the file as the agent has it now):');
    expect(screen).toMatch(/@@ -1,4 \+1,4 @@\n\s+ line 1\n\s+-line 2\n\s+\+line two, edited\n\s+ line 3\n/);
    expect(screen).toMatch(/-line 28\n\s+\+line twenty-eight, edited\n/);
    expect(screen).toMatch(/asked by rule: .*write_file/);
    await tmux.keys('a', 'y');
    screen = await tmux.waitFor('a', '— done');
    expect(screen).toContain('→ allowed once by you');
    // The call's duration: "850 ms", or "1.1 s" on a machine slow enough (formatDuration).
    expect(screen).toMatch(/✓ edit\s+write_file .*· \d+(?: ms|\.\d s)/);
    expect(screen).toContain('Updated notes.txt: two lines changed.');
    expect(screen).toMatch(/● 1 file changed in the shadow workspace: notes\.txt/);
    // Nothing reached the real file yet.
    expect(await readFile(path.join(ws, 'notes.txt'), 'utf8')).toBe(original);

    // Prompt 2: the same session continues. While it streams, /review is typed ahead and queued with Enter;
    // it runs when the turn ends.
    await tmux.line('a', 'anything else?');
    await tmux.waitFor('a', 'working ·');
    await tmux.line('a', '/review');
    await tmux.waitFor('a', 'queued › /review');
    endPrompt2();
    await tmux.waitFor('a', (s) => s.includes('That is all for now.') && count(s, '— done') === 2);

    // /review shows both hunks with ids; accept only the first.
    screen = await tmux.waitFor('a', 'accept with /accept');
    expect(screen.indexOf('› /review')).toBeGreaterThan(screen.lastIndexOf('— done'));
    const ids = [...screen.matchAll(/\[(notes\.txt#[^\]]+)\]/g)].map((m) => m[1]);
    expect(ids).toHaveLength(2);
    expect(screen).toContain('+line two, edited');
    expect(screen).toContain('-line 28');
    await tmux.line('a', `/accept ${ids[0]}`);
    await tmux.waitFor('a', /✓ \w+ notes\.txt/);
    const real = await readFile(path.join(ws, 'notes.txt'), 'utf8');
    expect(real).toContain('line two, edited\n');
    expect(real).toContain('line 28\n');
    expect(real).not.toContain('twenty-eight');
    // The diff is colored in a terminal: added lines green, removed lines red (picocolors' SGR codes).
    const colored = await tmux.captureColors('a');
    expect(colored).toMatch(/\x1b\[32m\+(\x1b\[[0-9;]*m)*line two, edited/);
    expect(colored).toMatch(/\x1b\[31m-(\x1b\[[0-9;]*m)*line 28/);

    // /undo puts the real file back.
    await tmux.line('a', '/undo');
    await tmux.waitFor('a', '↺ restored notes.txt');
    expect(await readFile(path.join(ws, 'notes.txt'), 'utf8')).toBe(original);

    // The person edits line 28 too: accepting everything is a conflict, shown with its markers; nothing is written.
    const mine = original.replace('line 28\n', 'line 28, mine\n');
    await writeFile(path.join(ws, 'notes.txt'), mine);
    await tmux.line('a', '/review');
    await tmux.waitFor('a', '⚠ stale');
    await tmux.line('a', '/accept all');
    screen = await tmux.waitFor('a', /✗ conflict notes\.txt/);
    expect(screen).toMatch(/^\s*<{7}/m);
    expect(screen).toMatch(/^\s*>{7}/m);
    expect(screen).toContain('line 28, mine');
    expect(await readFile(path.join(ws, 'notes.txt'), 'utf8')).toBe(mine);
    // Rejecting drops the agent's change; the person's file stays theirs.
    await tmux.line('a', '/reject notes.txt');
    await tmux.waitFor('a', '– rejected notes.txt');
    await tmux.line('a', '/review');
    await tmux.waitFor('a', 'nothing to review');
    expect(await readFile(path.join(ws, 'notes.txt'), 'utf8')).toBe(mine);

    // Prompt 3: a slow stream; Ctrl-C cancels it, the prompt comes back.
    await tmux.line('a', 'write slowly');
    await tmux.waitFor('a', 'slow chunk 2');
    // A line queued during the turn is not sent when the turn is cancelled: it comes back into the prompt.
    await tmux.line('a', 'a draft');
    await tmux.waitFor('a', 'queued › a draft');
    await tmux.keys('a', 'C-c');
    screen = await tmux.waitFor('a', '⊘ turn cancelled');
    // The stream never finishes by itself (it hangs after its chunks): the turn ending is the cancel's doing.
    expect(screen).not.toContain('slow chunk 59');
    // The daemon stopped reading the model's stream (the provider request was aborted).
    expect(model.requests.at(-1)?.clientClosedAt).toBeDefined();

    await tmux.waitFor('a', /› a draft$/);
    // Prompt 4: the session is still usable (Ctrl-U clears the draft first).
    await tmux.keys('a', 'C-u');
    await tmux.line('a', 'still there?');
    await tmux.waitFor('a', 'Still here.');
    expect(model.requests.some((r) => JSON.stringify(r.body).includes('a draft'))).toBe(false);
    expect(await tmux.capture('a')).not.toContain('turn failed');

    // A second Ctrl-C sequence exits; the daemon keeps the session.
    await tmux.keys('a', 'C-c');
    await tmux.keys('a', 'C-c');
    await tmux.waitFor('a', '[exit 0]');
    expect(await tmux.capture('a')).toContain('is kept by the daemon');
  });
  it('two terminals follow one live turn: the watcher sees the streamed text, answers the question, cancels; chat --session replays the history', async () => {
    const ws2 = await makeTempDir('ws');
    await writeFile(path.join(ws2, 'a.txt'), 'alpha\n');
    await askForWrites(ws2);
    await tmux.start('c', ['chat', '--workspace', ws2], d.env);
    const first = await tmux.waitFor('c', /◆ session (\S+) .*you are the driver/);
    const sessionId = /◆ session (\S+) /.exec(first)![1];
    await tmux.start('w', ['attach', sessionId], d.env);
    await tmux.waitFor('w', 'you are watching (/drive to take over)');

    model.push(
      {
        text: ['Editing ', '**a.txt** ', 'now.'],
        delayMs: 60,
        toolCalls: [{ name: 'write_file', arguments: { path: 'a.txt', content: 'alpha, beta\n' } }],
      },
      { text: ['Done with a.txt.'] },
    );
    await tmux.line('c', 'edit a');
    // The watcher sees the driver's prompt, the streamed text and the question, and answers it.
    let w = await tmux.waitFor('w', '[y] allow once');
    expect(w).toMatch(/› edit a\s+\(from terminal \d+\)/);
    expect(w).toContain('Editing a.txt now.');
    await tmux.waitFor('c', '[y] allow once');
    await tmux.keys('w', 'y');
    const c = await tmux.waitFor('c', (s) => /→ allowed once by terminal \d+/.test(s) && s.includes('— done'));
    // The driver's question went away with the other terminal's answer.
    expect(c).not.toMatch(/\? answer \[[^\n]*$/);
    expect(c).toContain('Done with a.txt.');
    w = await tmux.waitFor('w', (s) => s.includes('→ allowed once by you') && s.includes('— done'));
    expect(w).toContain('Done with a.txt.');

    // Any attached terminal may cancel: the watcher's Ctrl-C stops the driver's slow turn.
    model.push({ text: Array.from({ length: 80 }, (_, i) => `slow ${i} `), delayMs: 200 });
    await tmux.line('c', 'talk slowly');
    await tmux.waitFor('w', 'slow 2 ');
    await tmux.keys('w', 'C-c');
    await tmux.waitFor('c', '⊘ turn cancelled');
    await tmux.waitFor('w', '⊘ turn cancelled');

    // Both leave; the session stays; chat --session resumes it as driver with the history replayed.
    await tmux.keys('w', 'C-d');
    await tmux.waitFor('w', '[exit 0]');
    await tmux.keys('c', 'C-d');
    await tmux.waitFor('c', '[exit 0]');
    await tmux.start('r', ['chat', '--session', sessionId], d.env);
    const r = await tmux.waitFor('r', 'you are the driver');
    expect(r).toContain('› edit a');
    expect(r).toContain('Done with a.txt.');
    expect(r).toContain('→ allowed once');
    model.push({ text: ['Resumed ', 'fine.'] });
    // A prompt of two lines: the first ends in a backslash.
    await tmux.line('r', 'are you\\');
    await tmux.waitFor('r', /…$/);
    await tmux.line('r', 'there?');
    await tmux.waitFor('r', (s) => s.includes('Resumed fine.') && count(s, '— done') >= 2);
    expect(JSON.stringify(model.requests.at(-1)?.body)).toContain('are you\\nthere?');
    await rm(ws2, { recursive: true, force: true });
  });

  it('a paste of several lines is one prompt (bracketed paste), shown in the line with its line count', async () => {
    const ws5 = await makeTempDir('ws');
    try {
      await tmux.start('p', ['chat', '--workspace', ws5], d.env);
      await tmux.waitFor('p', 'you are the driver');
      const before = model.requests.length;
      model.push({ text: ['Got ', 'all three.'] });
      await tmux.type('p', 'explain: ');
      await tmux.paste('p', 'first line\nsecond line\nthird line\n');
      // Without bracketed paste the first pasted Enter would have sent "explain: first line" by now.
      let screen = await tmux.waitFor('p', /› explain: \[pasted text #1: 3 lines\]$/);
      expect(screen).not.toContain('second line');
      await tmux.type('p', ' (short)');
      // The typed text on the prompt line is the sync point: the paste's lines are still being edited.
      await tmux.waitFor('p', /› explain: \[pasted text #1: 3 lines\] \(short\)$/);
      expect(model.requests.length).toBe(before);
      await tmux.keys('p', 'Enter');
      screen = await tmux.waitFor('p', (s) => s.includes('Got all three.') && s.includes('— done'));
      expect(screen).toContain('› explain: [pasted text #1: 3 lines] (short)');
      expect(count(screen, '› explain')).toBe(1);
      expect(model.requests.length).toBe(before + 1);
      expect(JSON.stringify(model.requests.at(-1)?.body)).toContain(
        'explain: first line\\nsecond line\\nthird line (short)',
      );

      // Pasted in the middle of the line: the marker goes in at the cursor, and typing continues after it.
      // The busy turn ends once the paste has been queued behind it (a delay could run out first on a slow machine).
      let endBusy!: () => void;
      const pasteQueued = new Promise<void>((r) => (endBusy = r));
      model.push(
        { text: ['Middle ', 'ok.'] },
        { text: Array.from({ length: 12 }, (_, i) => `busy ${i} `), delayMs: 150, holdUntil: pasteQueued },
        { text: ['Queued ', 'paste ok.'] },
      );
      await tmux.type('p', 'AB');
      await tmux.keys('p', 'Left');
      await tmux.paste('p', 'x\ny');
      await tmux.type('p', 'C');
      await tmux.waitFor('p', /› A\[pasted text #2: 2 lines\]CB$/);
      await tmux.keys('p', 'Enter');
      await tmux.waitFor('p', 'Middle ok.');
      expect(JSON.stringify(model.requests.at(-1)?.body)).toContain('Ax\\nyCB');

      // Pasted while a turn runs: it becomes the typed-ahead line (marker and all); Enter queues it; it is sent whole.
      await tmux.line('p', 'be busy');
      await tmux.waitFor('p', 'busy 1 ');
      await tmux.paste('p', 'one\ntwo\n');
      await tmux.waitFor('p', 'next › [pasted text #3: 2 lines]');
      await tmux.keys('p', 'Enter');
      await tmux.waitFor('p', 'queued › [pasted text #3: 2 lines]');
      endBusy();
      await tmux.waitFor('p', 'Queued paste ok.');
      expect(model.requests.length).toBe(before + 4);
      expect(JSON.stringify(model.requests.at(-1)?.body)).toContain('one\\ntwo');
      expect(JSON.stringify(model.requests.at(-1)?.body)).not.toContain('pasted text #');
      await tmux.keys('p', 'C-d');
      await tmux.waitFor('p', '[exit 0]');
      // Bracketed paste is off again after exit: a paste into the pane (the tty echoes it) has no markers.
      await tmux.paste('p', 'after-exit');
      screen = await tmux.waitFor('p', 'after-exit');
      expect(screen).not.toContain('[200~');
    } finally {
      await rm(ws5, { recursive: true, force: true });
    }
  });

  it('on a pipe: plain text, the question answered by the next line, /review and /accept from the script', async () => {
    const ws3 = await makeTempDir('ws');
    await writeFile(path.join(ws3, 'b.txt'), 'one\n');
    await askForWrites(ws3);
    model.push(
      {
        text: ['# Plan\n', 'Change **b.txt**.\n'],
        toolCalls: [{ name: 'write_file', arguments: { path: 'b.txt', content: 'one, two\n' } }],
      },
      { text: ['Done.'] },
    );
    const out = await runCli(
      ['chat', '--workspace', ws3],
      { ...d.env, FORCE_COLOR: '1' },
      { input: 'change b\ny\n/review\n/accept all\n' },
    );
    expect(out.code).toBe(0);
    expect(out.stdout).not.toContain('\x1b');
    expect(out.stdout).toContain('# Plan\nChange **b.txt**.\n');
    expect(out.stdout).toMatch(/▸ edit\s+write_file b\.txt/);
    expect(out.stdout).toContain('→ allowed once by you');
    expect(out.stdout).toContain('+one, two');
    expect(out.stdout).toContain('✓ written b.txt');
    expect(await readFile(path.join(ws3, 'b.txt'), 'utf8')).toBe('one, two\n');
    await rm(ws3, { recursive: true, force: true });
  });

  it('starts the daemon when none answers', async () => {
    const state = await makeTempDir('st');
    const env = { ...d.env, SHADOWBOX_STATE_DIR: state, SHADOWBOX_SOCKET: path.join(state, 'daemon.sock') };
    const ws4 = await makeTempDir('ws');
    try {
      await tmux.start('s', ['chat', '--workspace', ws4], env);
      await tmux.waitFor('s', 'you are the driver');
      expect((await stat(path.join(state, 'daemon.out'))).isFile()).toBe(true);
      await tmux.keys('s', 'C-d');
      await tmux.waitFor('s', '[exit 0]');
      const status = await runCli(['status'], env);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/sessions:\s+1\b/);
    } finally {
      await runCli(['stop'], env);
      await rm(state, { recursive: true, force: true });
      await rm(ws4, { recursive: true, force: true });
    }
  });
});
