import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { count, haveTmux, Tmux } from './tmux.js';

const hasTmux = await haveTmux();
if (!hasTmux) console.warn('test/terminal: tmux is not installed (apt-get install tmux); skipping the terminal tests');

describe.skipIf(!hasTmux)('two terminals on one session (tmux, real daemon)', () => {
  let d: TestDaemon;
  let ws: string;
  const tmux = new Tmux(`sbx-attach-${process.pid}`);

  beforeAll(async () => {
    d = await startTestDaemon({ web: false });
    ws = await makeTempDir('ws');
  });
  afterAll(async () => {
    await tmux.kill();
    await d?.stop();
    await d?.cleanup();
    if (ws) await rm(ws, { recursive: true, force: true });
  });

  it('a second terminal attaches, watches, takes the driver role, hands it back, and leaves without ending the session', async () => {
    await tmux.start('a', ['chat', '--workspace', ws], d.env);
    const first = await tmux.waitFor('a', /◆ session (\S+) .*you are the driver/);
    const sessionId = /◆ session (\S+) /.exec(first)![1];

    await tmux.start('b', ['attach', sessionId], d.env);
    await tmux.waitFor('b', 'you are watching (/drive to take over)');
    // A sees B arrive.
    await tmux.waitFor('a', /○ terminal \d+ \(terminal\) attached/);

    // A watcher's prompt is not sent; it is told how to take over.
    await tmux.line('b', 'hello from b');
    await tmux.waitFor('b', 'you are watching: terminal');

    await tmux.line('b', '/drive');
    await tmux.waitFor('b', '◆ you are the driver');
    await tmux.waitFor('a', /◆ terminal \d+ is driving — you are watching/);
    await tmux.waitFor('a', /watching ›$/);

    await tmux.line('a', '/drive');
    await tmux.waitFor('a', (s) => count(s, '◆ you are the driver') >= 1 && /you are the driver\s*\n›$/.test(s));
    await tmux.waitFor('b', /◆ terminal \d+ is driving — you are watching/);

    // Ctrl-D on an empty line leaves; the daemon keeps the session and A is told.
    await tmux.keys('b', 'C-d');
    await tmux.waitFor('b', `session ${sessionId} is kept by the daemon`);
    await tmux.waitFor('b', '[exit 0]');
    await tmux.waitFor('a', /○ terminal \d+ detached/);

    await tmux.line('a', '/sessions');
    const list = await tmux.waitFor('a', /● \S+\s+idle .* 1 attached/);
    expect(list).toContain(sessionId);
  });

  it('a terminal following a session shows a `shadowbox exec` run on it, marked with who ran it', async () => {
    await tmux.start('c', ['chat', '--workspace', ws], d.env);
    const first = await tmux.waitFor('c', /◆ session (\S+) .*you are the driver/);
    const sessionId = /◆ session (\S+) /.exec(first)![1];
    const r = await runCli(['exec', '--session', sessionId, '--', 'sh', '-c', 'echo direct-out > made.txt'], d.env);
    expect(r.code, r.stderr).toBe(0);
    // The exec client attached (its name is known), ran the shell call; the terminal shows its result line.
    const screen = await tmux.waitFor('c', /✓ execute\s+shell .*· run by shadowbox-exec/);
    expect(screen).toContain('changed in the shadow workspace: made.txt');
  });
});
