// The model-backed terminal scenarios: the real shadowbox binary in real terminals (tmux) against a real
// daemon whose model is the scripted model server.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicySetRules } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer } from '../model-server/index.js';
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
    model = await startModelServer({ script: [
      // Prompt 1, model turn 1: a tool call that edits two far-apart lines (two hunks).
      { text: ['I will update ', 'the **notes**.'], toolCalls: [{ name: 'write_file', arguments: { path: 'notes.txt', content: edited } }] },
      // Prompt 1, model turn 2 (after the tool result).
      { text: ['Updated `notes.txt`: ', 'two lines changed.'] },
      // Prompt 2 (multi-turn: same session).
      { text: ['That is all ', 'for now.'] },
      // Prompt 3: a slow stream, cancelled with Ctrl-C.
      { text: Array.from({ length: 60 }, (_, i) => `slow chunk ${i} `), delayMs: 250 },
      // Prompt 4: the session still works after the cancel.
      { text: ['Still here.'] },
    ] });
    d = await startTestDaemon({ web: false, env: { SHADOWBOX_MODEL: 'openai/test-model', OPENAI_BASE_URL: `${model.url}/v1`, OPENAI_API_KEY: 'test' } });
    // Make write_file ask, so the turn shows a permission question.
    const admin = await d.connect('admin');
    await admin.request(PolicySetRules, { workspace: ws, add: [{ action: 'ask', tool: 'write_file' }] });
    admin.dispose();
  });
  afterAll(async () => {
    await tmux.kill();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    if (ws) await rm(ws, { recursive: true, force: true });
  });

  it('runs a multi-turn task with a tool call and a permission question, reviews, accepts one hunk, and cancels a slow stream', async () => {
    await tmux.start('a', ['chat', '--workspace', ws], d.env);
    await tmux.waitFor('a', 'you are the driver');

    // Prompt 1: streamed text, the tool call waits for permission; answer "for this session".
    await tmux.line('a', 'update the notes');
    let screen = await tmux.waitFor('a', '[y] allow once  [s] allow for this session  [p] always allow for this project  [n] deny');
    expect(screen).toContain('I will update the notes.');
    expect(screen).toMatch(/\? permission edit\s+write_file/);
    expect(screen).toContain('"path": "notes.txt"');
    expect(screen).toMatch(/asked by rule: .*write_file/);
    await tmux.keys('a', 's');
    screen = await tmux.waitFor('a', '— done');
    expect(screen).toContain('→ allowed for this session by you');
    expect(screen).toMatch(/✓ edit\s+write_file .*· \d+ ms/);
    expect(screen).toContain('Updated notes.txt: two lines changed.');
    expect(screen).toMatch(/● 1 file\(s\) changed in the shadow workspace: notes\.txt/);
    // Nothing reached the real file yet.
    expect(await readFile(path.join(ws, 'notes.txt'), 'utf8')).toBe(original);

    // Prompt 2: the same session continues.
    await tmux.line('a', 'anything else?');
    await tmux.waitFor('a', (s) => s.includes('That is all for now.') && count(s, '— done') === 2);

    // /review shows both hunks with ids; accept only the first.
    await tmux.line('a', '/review');
    screen = await tmux.waitFor('a', 'accept with /accept');
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
    expect(colored).toMatch(/\x1b\[32m\+line two, edited/);
    expect(colored).toMatch(/\x1b\[31m-line 28/);

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
    await tmux.keys('a', 'C-c');
    const cancelAt = Date.now();
    screen = await tmux.waitFor('a', '⊘ turn cancelled');
    expect(Date.now() - cancelAt).toBeLessThan(5000);
    expect(screen).not.toContain('slow chunk 59');
    // The daemon stopped reading the model's stream (the provider request was aborted).
    expect(model.requests.at(-1)?.clientClosedAt).toBeDefined();

    // Prompt 4: the session is still usable.
    await tmux.line('a', 'still there?');
    await tmux.waitFor('a', 'Still here.');

    // A second Ctrl-C sequence exits; the daemon keeps the session.
    await tmux.keys('a', 'C-c');
    await tmux.keys('a', 'C-c');
    await tmux.waitFor('a', '[exit 0]');
    expect(await tmux.capture('a')).toContain('is kept by the daemon');
  });
});
