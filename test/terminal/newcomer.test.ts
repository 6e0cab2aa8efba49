// Issue 19 in a real terminal (tmux) and through pipes: a hunk of two nearby fixes split at unchanged lines,
// syntax colors in code blocks and diffs, retries of a model call shown as they happen, chat --continue, and a
// piped chat whose failed turn is its exit code.
import { readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { haveTmux, Tmux } from './tmux.js';

const hasTmux = await haveTmux();
if (!hasTmux) console.warn('test/terminal: tmux is not installed (apt-get install tmux); skipping the terminal tests');

const lines = Array.from({ length: 30 }, (_, i) => `x${i + 1} = ${i + 1}`).join('\n') + '\n';
// Two fixes six lines apart: one hunk with two runs of changes.
const fixed = lines.replace('x10 = 10\n', 'x10 = 100\n').replace('x16 = 16\n', 'x16 = 160\n');

describe('the terminal client, for a newcomer', () => {
  let d: TestDaemon;
  let model: ModelServer;
  const tmux = new Tmux(`sbx-new-${process.pid}`);

  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
  });
  afterAll(async () => {
    await tmux.kill();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it.skipIf(!hasTmux)(
    'splits a hunk of two nearby fixes at unchanged lines: /accept HUNK:LINES takes one; code and diffs are colored by language',
    async () => {
      const ws = await makeTempDir('ws');
      await writeFile(path.join(ws, 'calc.py'), lines);
      model.push(
        {
          text: [
            'Here is the idea:\n\n```python\ndef total(xs):\n    return sum(xs)  # all of them\n```\n\nApplying it.',
          ],
          toolCalls: [{ name: 'write_file', arguments: { path: 'calc.py', content: fixed } }],
        },
        { text: ['Two fixes.'] },
      );
      await tmux.start('s', ['chat', '--workspace', ws], d.env, ws);
      await tmux.waitFor('s', 'you are the driver');
      await tmux.line('s', 'fix calc');
      await tmux.waitFor('s', '— done');
      // The code block is highlighted as Python: keyword magenta, comment gray (picocolors' SGR codes).
      const colors = await tmux.captureColors('s');
      expect(colors).toMatch(/\x1b\[35mdef/);
      expect(colors).toMatch(/\x1b\[90m# all of them/);

      await tmux.line('s', '/review');
      const screen = await tmux.waitFor('s', 'separate changes');
      const id = /\[(calc\.py#[0-9a-f-]+)\]/.exec(screen)![1];
      const runs = /2 separate changes, lines (\d+)-(\d+) · (\d+)-(\d+)/.exec(screen)!;
      expect(runs).not.toBeNull();
      // The lines are numbered, so a run can be named.
      expect(screen).toMatch(new RegExp(`\\b${runs[1]} -x10 = 10`));
      // The diff is highlighted as Python (calc.py): numbers yellow, the marker green or red.
      const diffColors = await tmux.captureColors('s');
      expect(diffColors).toMatch(/\x1b\[33m100/);
      await tmux.line('s', `/accept ${id}:${runs[1]}-${runs[2]}`);
      await tmux.waitFor('s', '✓ written calc.py');
      expect(await readFile(path.join(ws, 'calc.py'), 'utf8')).toBe(lines.replace('x10 = 10\n', 'x10 = 100\n'));
      // The second fix is still pending, and on its own now.
      await tmux.line('s', '/review');
      const after = await tmux.waitFor('s', (s) => s.split('› /review').length === 3 && s.includes('+x16 = 160'));
      expect(after.slice(after.lastIndexOf('› /review'))).not.toContain('separate changes');
      await tmux.keys('s', 'C-d');
      await tmux.waitFor('s', '[exit 0]');
      await rm(ws, { recursive: true, force: true });
    },
  );

  it.skipIf(!hasTmux)('shows each retry of a model call that fails, with the URL and the cause', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const down = await startTestDaemon({
      web: false,
      env: {
        SHADOWBOX_MODEL: 'openai/local',
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
        SHADOWBOX_MODEL_MAX_RETRIES: '2',
      },
    });
    try {
      const ws = await makeTempDir('ws');
      await tmux.start('r', ['chat', '--workspace', ws], down.env, ws);
      await tmux.waitFor('r', 'you are the driver');
      await tmux.line('r', 'hello?');
      const screen = await tmux.waitFor('r', '✗ turn failed');
      expect(screen).toContain(
        `↻ the model call failed (connect ECONNREFUSED 127.0.0.1:${port}) at http://127.0.0.1:${port}/v1/chat/completions; retrying, attempt 2 of 3`,
      );
      expect(screen).toContain('attempt 3 of 3');
      expect(screen).toContain(`Cannot reach openai/local at http://127.0.0.1:${port}/v1`);
    } finally {
      await down.stop();
      await down.cleanup();
    }
  });

  it('a piped chat exits 1 when a turn failed, 0 when all went well; --continue resumes the conversation', async () => {
    const ws = await makeTempDir('ws');
    model.push({ error: { status: 400, body: { error: { message: 'bad request, scripted' } } } });
    const failed = await runCli(['chat', '--workspace', ws], d.env, { input: 'hi\n' });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('bad request, scripted');
    model.push({ text: ['Fine.'] });
    const ok = await runCli(['chat', '--workspace', ws, '--continue'], d.env, { input: 'and now?\n' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Fine.');
    // The same conversation: the first prompt is in the history the model got.
    const body = model.requests.at(-1)!.body as { messages: { role: string; content: string }[] };
    expect(body.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['hi', 'and now?']);
  });
});
