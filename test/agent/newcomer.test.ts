// Issue 19, a newcomer's first hour, through the real binary: changes of several sessions never seem to
// vanish, a broken config.json fails at once with its reason, every command has help, a model server that
// is down is named with its retries, and the daemon says which environment it keeps.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

const SESSION_ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const pythonBuilt = existsSync(path.resolve(__dirname, '../../bundles/out/python'));

function stateEnv(stateDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', SHADOWBOX_STATE_DIR: stateDir, ...extra };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'SHADOWBOX_MODEL'])
    if (!(k in extra)) delete env[k];
  delete env.SHADOWBOX_SOCKET;
  return env;
}

/** A port nothing listens on (a model server that is down). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe('pending changes of several sessions', () => {
  let model: ModelServer;
  let env: NodeJS.ProcessEnv;
  let ws: string;
  beforeAll(async () => {
    model = await startModelServer();
    env = stateEnv(await makeTempDir('st'), {
      ...openaiEnv(model),
    });
    ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'a.txt'), 'one\n');
  });
  afterAll(async () => {
    await runCli(['stop'], env).catch(() => undefined);
    await model.close();
  });

  it.skipIf(!pythonBuilt)(
    'run then python: review shows both sessions, accept refuses to guess, --session picks one, undo takes the newest accept, --continue goes on',
    async () => {
      model.push(
        { text: ['Editing.'], toolCalls: [{ name: 'write_file', arguments: { path: 'a.txt', content: 'two\n' } }] },
        { text: ['Done.'] },
      );
      const run = await runCli(['run', 'change a'], env, { cwd: ws });
      expect(run.code).toBe(0);
      const agent = run.stderr.match(SESSION_ID)![0];
      const py = await runCli(['python', '-c', "open('b.txt', 'w').write('bee\\n')"], env, { cwd: ws });
      expect(py.code).toBe(0);
      expect(py.stderr).toContain('1 file changed in the shadow workspace (b.txt); review with: shadowbox review');

      // Both sessions' changes are in the review, grouped, with their ids.
      const review = await runCli(['review'], env, { cwd: ws });
      expect(review.code).toBe(0);
      expect(review.stdout).toContain('2 sessions on');
      const ids = [...new Set(review.stdout.match(SESSION_ID))];
      expect(ids).toHaveLength(2);
      expect(ids).toContain(agent);
      const tool = ids.find((id) => id !== agent)!;
      expect(review.stdout).toMatch(new RegExp(`── session ${agent} · change a · 1 file pending`));
      expect(review.stdout).toMatch(
        new RegExp(`── session ${tool} · shadowbox python · 1 file pending · CLI tool runs`),
      );
      expect(review.stdout).toContain('+two');
      expect(review.stdout).toContain('+bee');

      const sessions = await runCli(['sessions'], env, { cwd: ws });
      expect(sessions.code).toBe(0);
      // "N s ago", or "N min ago" on a machine slow enough to take a minute since the session's last activity.
      const ago = '\\d+ (?:s|min) ago';
      expect(sessions.stdout).toMatch(new RegExp(`${agent}\\s+idle\\s+1 file\\s+1\\s+${ago}\\s+change a`));
      expect(sessions.stdout).toMatch(new RegExp(`${tool}\\s+idle\\s+1 file\\s+—\\s+${ago}\\s+shadowbox python`));

      // Accept without --session does not guess, and writes nothing.
      const refused = await runCli(['accept'], env, { cwd: ws });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('2 sessions have pending changes; accept does not guess which one you mean');
      expect(refused.stderr).toContain(agent);
      expect(refused.stderr).toContain(tool);
      expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('one\n');
      expect(existsSync(path.join(ws, 'b.txt'))).toBe(false);
      expect((await runCli(['reject'], env, { cwd: ws })).code).toBe(1);

      const picked = await runCli(['accept', '--session', agent], env, { cwd: ws });
      expect(picked.code).toBe(0);
      expect(picked.stdout).toContain('✓ written a.txt');
      expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('two\n');
      // One session left with changes: now accept knows which one.
      const rest = await runCli(['accept'], env, { cwd: ws });
      expect(rest.code).toBe(0);
      expect(await readFile(path.join(ws, 'b.txt'), 'utf8')).toBe('bee\n');

      // Undo takes back the newest accept, whichever session made it.
      const undo = await runCli(['undo'], env, { cwd: ws });
      expect(undo.code).toBe(0);
      expect(undo.stdout).toContain('restored b.txt');
      expect(existsSync(path.join(ws, 'b.txt'))).toBe(false);
      expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('two\n');

      // The audit log names the files of the accepts.
      const audit = await runCli(['audit', 'show', '--type', 'shadow.accept'], env, { cwd: ws });
      expect(audit.stdout).toContain('accepted 1 file · a.txt (written)');
      expect(audit.stdout).toContain('accepted 1 file · b.txt (written)');

      // --continue goes on with the agent's conversation (not the python session).
      model.push({ text: ['Still here.'] });
      const again = await runCli(['run', '--continue', 'and now?'], env, { cwd: ws });
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`session ${agent} on`);
      expect(again.stderr).toContain('(continuing: 1 earlier prompt)');
      const history = model.requests.at(-1)!.body as { messages: { role: string; content: string }[] };
      expect(history.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['change a', 'and now?']);
      model.push({ text: ['By id.'] });
      expect((await runCli(['run', '--session', agent, 'third'], env, { cwd: ws })).code).toBe(0);
      expect((await runCli(['sessions', '--json'], env, { cwd: ws })).stdout).toContain(`"prompts":3`);
    },
    120_000,
  );

  it('--continue without a conversation says so; export outside a git repo says where the branch went', async () => {
    const empty = await makeTempDir('ws');
    const r = await runCli(['run', '--continue', 'hi'], env, { cwd: empty });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no conversation to continue on`);
    model.push(
      { text: ['Writing.'], toolCalls: [{ name: 'write_file', arguments: { path: 'n.txt', content: 'n\n' } }] },
      { text: ['Done.'] },
    );
    expect((await runCli(['run', 'write n'], env, { cwd: empty })).code).toBe(0);
    const ex = await runCli(['shadow', 'export', '--branch', 'agent/n'], env, { cwd: empty });
    expect(ex.code).toBe(0);
    expect(ex.stdout).toContain('the workspace is not a git repository, so branch agent/n');
    expect(ex.stdout).toMatch(/in the shadow repository \/\S+shadow\.git; fetch it with: git fetch \S+ agent\/n/);
    expect(ex.stdout).not.toContain('your HEAD');
  });
});

describe('a hunk split at unchanged lines, through the binary', () => {
  it('review numbers the runs of a hunk; accept FILE#HUNK:LINES writes one, the other stays pending', async () => {
    const model = await startModelServer();
    const env = stateEnv(await makeTempDir('st'), {
      ...openaiEnv(model),
    });
    const ws = await makeTempDir('ws');
    const lines = Array.from({ length: 30 }, (_, i) => `x${i + 1} = ${i + 1}`).join('\n') + '\n';
    const first = lines.replace('x10 = 10\n', 'x10 = 100\n');
    const both = first.replace('x16 = 16\n', 'x16 = 160\n');
    await writeFile(path.join(ws, 'calc.py'), lines);
    try {
      model.push(
        { text: ['Two fixes.'], toolCalls: [{ name: 'write_file', arguments: { path: 'calc.py', content: both } }] },
        { text: ['Done.'] },
      );
      expect((await runCli(['run', 'fix calc'], env, { cwd: ws })).code).toBe(0);
      const review = await runCli(['review'], env, { cwd: ws });
      expect(review.code).toBe(0);
      // Two fixes six lines apart are one hunk; review names its two runs and how to take one.
      const hint = review.stdout.match(/2 separate changes, lines (\d+)-(\d+) · (\d+)-(\d+): take one with (\S+)/);
      expect(hint, review.stdout).not.toBeNull();
      const take = hint![5];
      expect(take).toMatch(/^calc\.py#[0-9a-f]+:\d+-\d+$/);
      expect((await runCli(['accept', take], env, { cwd: ws })).code).toBe(0);
      expect(await readFile(path.join(ws, 'calc.py'), 'utf8')).toBe(first);
      // What stays pending is the second fix alone, under a new id.
      const rest = await runCli(['review'], env, { cwd: ws });
      expect(rest.stdout).toContain('+x16 = 160');
      expect(rest.stdout).not.toContain('+x10 = 100');
      expect(rest.stdout).not.toContain('separate changes');
      const bad = await runCli(['accept', `${take.split(':')[0]}:1-2`], env, { cwd: ws });
      expect(bad.code).toBe(1);
      expect((await runCli(['reject'], env, { cwd: ws })).code).toBe(0);
      expect(await readFile(path.join(ws, 'calc.py'), 'utf8')).toBe(first);
    } finally {
      await runCli(['stop'], env).catch(() => undefined);
      await model.close();
    }
  }, 60_000);
});

describe('help', () => {
  const env = { ...process.env, NO_COLOR: '1' };
  it('every command answers --help and -h with its usage, options and an example; help CMD is the same', async () => {
    const top = await runCli(['--help'], env);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Choosing a model:');
    expect(top.stdout).toContain('--model PROVIDER/MODEL');
    const names = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['run', 'chat', 'sessions', 'review', 'accept', 'python', 'bundles']));
    expect(names.length).toBeGreaterThanOrEqual(20);
    for (const name of names) {
      const long = await runCli([name, '--help'], env);
      expect(long.code, name).toBe(0);
      expect(long.stdout, name).toContain(`usage: shadowbox ${name}`);
      expect(long.stdout, name).toContain('options:');
      expect(long.stdout, name).toMatch(/examples:\n {2}\S/);
    }
    for (const name of ['run', 'accept', 'python']) {
      const long = await runCli([name, '--help'], env);
      expect((await runCli([name, '-h'], env)).stdout, name).toBe(long.stdout);
      expect((await runCli(['help', name], env)).stdout, name).toBe(long.stdout);
    }
    // python passes a later -h to the program it runs; only its first argument asks shadowbox for help.
    expect((await runCli(['help', 'nope'], env)).code).toBe(2);
    const unknown = await runCli(['review', '--nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('shadowbox review --help lists the options');
  }, 120_000);
});

describe('a broken config.json', () => {
  it('every command that starts the daemon shows its one-line reason (file, field) at once and exits non-zero', async () => {
    const stateDir = await makeTempDir('st');
    await writeFile(path.join(stateDir, 'config.json'), JSON.stringify({ model: 5 }));
    const env = stateEnv(stateDir);
    const ws = await makeTempDir('ws');
    const commands = [
      ['review'],
      ['accept'],
      ['reject'],
      ['undo'],
      ['sessions'],
      ['run', 'hi'],
      ['python', '-c', 'print(1)'],
      ['wasi', 'run', 'jq', '--', '.'],
      ['audit', 'show'],
      ['policy', 'list'],
      ['web'],
      ['bundles', 'list'],
      ['chat'],
      ['attach'],
      ['acp'],
    ];
    for (const args of commands) {
      const r = await runCli(args, env, { cwd: ws, timeoutMs: 30_000 });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain(
        `the shadowbox daemon could not start: ${path.join(stateDir, 'config.json')}: model: `,
      );
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  }, 120_000);
});

describe('the model server and the environment', () => {
  it('a model server that is down: each retry is shown with the URL and the cause, the error is printed once', async () => {
    const port = await closedPort();
    const env = stateEnv(await makeTempDir('st'), {
      SHADOWBOX_MODEL: 'openai/local',
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      SHADOWBOX_MODEL_MAX_RETRIES: '2',
    });
    try {
      const r = await runCli(['run', 'hi'], env, { cwd: await makeTempDir('ws') });
      expect(r.code).toBe(1);
      const url = `http://127.0.0.1:${port}/v1/chat/completions`;
      expect(r.stdout).toContain(
        `↻ the model call failed (connect ECONNREFUSED 127.0.0.1:${port}) at ${url}; retrying, attempt 2 of 3`,
      );
      expect(r.stdout).toContain('attempt 3 of 3');
      expect(r.stderr).toContain(`Cannot reach openai/local at http://127.0.0.1:${port}/v1: connect ECONNREFUSED`);
      expect(r.stderr.split('Cannot reach')).toHaveLength(2);
      expect(r.stdout).not.toContain('Cannot reach');
    } finally {
      await runCli(['stop'], env);
    }
  });

  it('a key exported after the daemon started: the note names the setting and the restart; after stop it works', async () => {
    const model = await startModelServer();
    const stateDir = await makeTempDir('st');
    const ws = await makeTempDir('ws');
    const without = stateEnv(stateDir, { SHADOWBOX_MODEL: 'anthropic/test', ANTHROPIC_BASE_URL: model.url });
    const withKey = { ...without, ANTHROPIC_API_KEY: 'sk-ant-test' };
    try {
      expect((await runCli(['sessions'], without, { cwd: ws })).code).toBe(0);
      const r = await runCli(['run', 'hi'], withKey, { cwd: ws });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /note: the running daemon \(pid \d+\) does not use this shell's ANTHROPIC_API_KEY: it started without ANTHROPIC_API_KEY/,
      );
      expect(r.stderr).toContain('Set ANTHROPIC_API_KEY to use anthropic/test');
      expect(r.stderr).toContain('run `shadowbox stop`');
      expect(r.stderr).not.toContain('sk-ant-test');
      expect(await readFile(path.join(stateDir, 'daemon.log'), 'utf8')).not.toContain('sk-ant-test');
      expect((await runCli(['stop'], withKey)).code).toBe(0);
      model.push({ text: ['Hello.'] });
      const ok = await runCli(['run', 'hi'], withKey, { cwd: ws });
      expect(ok.code).toBe(0);
      expect(ok.stderr).not.toContain('note:');
      expect(model.requests.at(-1)!.headers['x-api-key']).toBe('sk-ant-test');
    } finally {
      await runCli(['stop'], withKey);
      await model.close();
    }
  });
});
