// A command whose reader goes away early (`shadowbox review | head -3`): it ends quietly with 141 (128 + SIGPIPE, as
// git and coreutils do), not with Node's stack trace for an unhandled EPIPE. The reader's end is closed before the
// CLI has started, so its first write fails every time: nothing here depends on timing.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCli, shadowboxBin, startTestDaemon } from '../helpers/daemon.js';

/** Runs the CLI with its stdout's (or stderr's) reader closed at once; the exit and what the other stream got. */
function closedReader(
  args: string[],
  closed: 'stdout' | 'stderr',
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; other: string }> {
  const child = spawn(process.execPath, [shadowboxBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child[closed].destroy();
  let other = '';
  child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (d: Buffer) => (other += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, other })));
}

describe('a reader that goes away early', () => {
  it('stdout closed: help and status end with 141 and no stack trace', async () => {
    expect(await closedReader(['help'], 'stdout')).toEqual({ code: 141, signal: null, other: '' });
    const d = await startTestDaemon();
    try {
      const r = await closedReader(['status'], 'stdout', d.env);
      expect(r).toEqual({ code: 141, signal: null, other: '' });
      // With its reader there, the same command prints and exits 0.
      const ok = await runCli(['status'], d.env);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/shadowbox daemon .* running/);
    } finally {
      await d.stop();
      await d.cleanup();
    }
  });

  it('stderr closed: an unknown command ends with 141', async () => {
    expect(await closedReader(['no-such-command'], 'stderr')).toEqual({ code: 141, signal: null, other: '' });
  });
});
