// `shadowbox run` and `shadowbox demo` as a person runs them: real binaries, auto-started daemons.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEvent } from '@shadowbox/protocol';
import { makeTempDir, runCli } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

describe('shadowbox run', () => {
  let model: ModelServer;
  let stateDir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    model = await startModelServer();
    stateDir = await makeTempDir('st');
    env = {
      ...process.env,
      SHADOWBOX_STATE_DIR: stateDir,
      SHADOWBOX_SOCKET: path.join(stateDir, 'd.sock'),
      ...openaiEnv(model),
    };
  });
  afterAll(async () => {
    await runCli(['stop'], env).catch(() => undefined);
    await model.close();
  });

  it('auto-starts the daemon, streams one event per line with --json, exits 0 on end_turn; the file waits for review', async () => {
    const ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'x.txt'), 'one\n');
    model.push(
      { text: ['Editing.'], toolCalls: [{ name: 'write_file', arguments: { path: 'x.txt', content: 'two\n' } }] },
      { text: ['Done.'] },
    );
    const r = await runCli(['run', '--json', '--workspace', ws, 'change x'], env);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SessionEvent);
    expect(events.map((e) => e.event.type)).toEqual(
      expect.arrayContaining(['user_message', 'tool_call', 'checkpoint', 'turn_end']),
    );
    expect(await readFile(path.join(ws, 'x.txt'), 'utf8')).toBe('one\n');
    const review = await runCli(['review', '--workspace', ws], env);
    expect(review.stdout).toContain('+two');
    const accept = await runCli(['accept', '--workspace', ws], env);
    expect(accept.code).toBe(0);
    expect(await readFile(path.join(ws, 'x.txt'), 'utf8')).toBe('two\n');
  });

  it('exits non-zero with one clear sentence when the provider refuses the key', async () => {
    const ws = await makeTempDir('ws');
    model.push({
      error: { status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } },
    });
    const r = await runCli(['run', '--workspace', ws, 'hi'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error/i);
  });
});

describe('shadowbox demo', () => {
  it('runs the scripted task end to end on a throw-away workspace and daemon', async () => {
    const r = await runCli(['demo'], { ...process.env, NO_COLOR: '1' }, { timeoutMs: 120_000 });
    // Nothing on stderr: the daemon installs python at its first start, and the demo's own install request
    // joins that one (no progress of its own to show).
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SCRIPTED');
    expect(r.stdout).toContain('stats.py on disk still says: return sum(xs) / (len(xs) - 1)');
    expect(r.stdout).toContain('stats.py on disk now says: return sum(xs) / len(xs)');
    expect(r.stdout).toMatch(/✓ verified: \d+ entries/);
  }, 120_000);
});
