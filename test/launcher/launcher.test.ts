// The native launcher (clients/launcher, built into daemon/bin/shadowbox) against the Node CLI it stands in front
// of, with a real daemon and the real python bundle. `shadowbox python -c` must print exactly what the Node client
// prints (every byte of stdout and stderr, and the exit code) and use the same session; everything else, and every
// case it cannot answer before changing anything, must reach the Node CLI. The launcher's own runs get a PATH with
// no `node` on it: a run that printed the right output there did not hand over to Node (a hand-over fails, 127).
// Needs a C compiler (scripts/build-launcher.mjs is run here, so the binary is current); without one there is no
// launcher to test, and the suite says so.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicySetRules, SessionList } from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import {
  launcherBin,
  makeTempDir,
  NO_NODE_PATH,
  repoRoot,
  shadowboxBin,
  startTestDaemon,
  type TestDaemon,
} from '../helpers/daemon.js';

const cc = process.env.CC || 'cc';
const hasCc = spawnSync(cc, ['--version']).status === 0;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Runs a program to completion, keeping its output as bytes; stdin is `input` through a pipe, else /dev/null. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, input?: Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, cwd, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    child.stdin?.end(input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
  });
}

const text = (r: Run) => ({ code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') });

describe.skipIf(!hasCc)(`the native launcher (needs a C compiler: ${cc})`, () => {
  let d: TestDaemon;
  let c: ShadowboxClient;
  /** The daemon's environment with no node on PATH: only the launcher's own answer can succeed. */
  let bare: NodeJS.ProcessEnv;

  beforeAll(async () => {
    if (!existsSync(path.join(repoRoot, 'bundles/out/python')))
      throw new Error(
        'bundle python is not built: run `node bundles/scripts/build.mjs python` (scripts/setup.sh does)',
      );
    const built = spawnSync(process.execPath, [path.join(repoRoot, 'scripts/build-launcher.mjs')], {
      encoding: 'utf8',
    });
    if (built.status !== 0) throw new Error(`scripts/build-launcher.mjs failed:\n${built.stderr}`);
    d = await startTestDaemon({ web: false });
    c = await d.connect('launcher-e2e');
    bare = { ...d.env, PATH: NO_NODE_PATH };
    // The launcher answers only once the store lists python: the Node CLI's first run installs it (or joins
    // the daemon's warm-up install) and waits for it.
    const first = await run(process.execPath, [shadowboxBin, 'python', '-c', 'pass'], d.env, await makeTempDir());
    expect(text(first)).toMatchObject({ code: 0 });
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  /** The same command through the launcher (no node on PATH) and the Node CLI, each in a fresh copy of a folder. */
  const both = async (args: string[], files: Record<string, string> = {}, input?: Buffer) => {
    const dirs = [await makeTempDir('launch-n'), await makeTempDir('launch-j')];
    for (const dir of dirs)
      for (const [name, body] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
        await writeFile(path.join(dir, name), body);
      }
    const native = await run(launcherBin, args, bare, dirs[0], input);
    const node = await run(process.execPath, [shadowboxBin, ...args], d.env, dirs[1], input);
    return { native, node, dirs };
  };

  const cases: [string, string[]][] = [
    ['output and exit code 0', ['python', '-c', 'print("hello")']],
    [
      'stderr and exit code 3',
      ['python', '-c', 'import sys\nprint("out")\nprint("bye", file=sys.stderr)\nsys.exit(3)'],
    ],
    ['arguments, unicode and empty', ['python', '-c', 'import sys; print(sys.argv)', 'ä ü', '-x', '', '--help']],
    ['-cCODE glued, after dropped options', ['python', '-u', '-BE', '-cimport sys; print(sys.argv[1:])', 'a']],
    ['a traceback', ['python', '-c', 'def f():\n    raise ValueError("no")\nf()']],
    ['a syntax error', ['python', '-c', 'print(']],
    [
      'bytes that are not UTF-8, NULs and a surrogate',
      [
        'python',
        '-c',
        'import sys; sys.stdout.buffer.write(b"a\\x00b\\xed\\xa0\\x80c\\xff\\xfe\\n"); print("\\udcff", end="")',
      ],
    ],
    ['1 MiB of output', ['python', '-c', 'import sys; sys.stdout.write("x" * 1048576); print(); print("é" * 70000)']],
    ['an exit code above 255', ['python', '-c', 'raise SystemExit(261)']],
    ['a file written', ['python', '-c', 'open("made.txt", "w").write("x"); print("ok")']],
    ['seven files written', ['python', '-c', 'for i in range(7): open(f"f{i}.txt", "w").write(str(i))']],
    [
      'a file changed and one read',
      ['python', '-c', 'print(open("in.txt").read().upper()); open("in.txt", "a").write("more")'],
    ],
  ];

  // Bytes on stdin that are not all UTF-8 (each invalid run becomes U+FFFD in Node: the launcher decodes alike).
  const odd = Buffer.concat([
    Buffer.from('line é\n'),
    Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82, 0x0a, 0xed, 0xa0, 0x80, 0xf0, 0x9f]),
  ]);
  const script = 'import sys\nprint(sys.argv[1:], repr(sys.stdin.read()))\n';
  const stdinCases: [string, string[], Buffer | undefined][] = [
    ['FILE with arguments and piped stdin', ['python', 'prog.py', 'a', '-x'], odd],
    ['FILE with stdin from /dev/null', ['python', 'prog.py'], undefined],
    ['FILE after dropped options, -W and --', ['python', '-u', '-W', 'ignore', '-Xdev', '--', 'prog.py', 'b'], odd],
    ['sub/FILE', ['python', 'sub/p2.py'], Buffer.from('x')],
    ['-m with piped stdin', ['python', '-m', 'json.tool'], Buffer.from('{"a": [1, 2]}')],
    ['-mMOD glued with stdin from /dev/null', ['python', '-mjson.tool'], undefined],
    ['the program on stdin (-)', ['python', '-', 'q'], Buffer.from(script)],
    ['the program on stdin (no argument)', ['python'], Buffer.from('print(2**10)')],
    ['an empty program from /dev/null', ['python'], undefined],
    ['-c with stdin piped (not read)', ['python', '-c', 'import sys; print(sys.stdin.read() == "")'], odd],
  ];

  it.each(stdinCases)('prints what the Node CLI prints: %s', async (_name, args, input) => {
    const { native, node } = await both(args, { 'prog.py': script, 'sub/p2.py': script }, input);
    expect(native.stderr.toString('utf8')).not.toContain('cannot run node');
    expect(native.code).toBe(node.code);
    expect(native.stdout.equals(node.stdout), `stdout:\n${text(native).stdout}\n---\n${text(node).stdout}`).toBe(true);
    expect(native.stderr.equals(node.stderr), `stderr:\n${text(native).stderr}\n---\n${text(node).stderr}`).toBe(true);
  });

  it.each(cases)('prints what the Node CLI prints: %s', async (_name, args) => {
    const { native, node } = await both(args, { 'in.txt': 'data\n' });
    expect(native.stderr.toString('utf8')).not.toContain('cannot run node');
    expect(native.code).toBe(node.code);
    expect(native.stdout.equals(node.stdout), `stdout:\n${text(native).stdout}\n---\n${text(node).stdout}`).toBe(true);
    expect(native.stderr.equals(node.stderr), `stderr:\n${text(native).stderr}\n---\n${text(node).stderr}`).toBe(true);
  });

  it('ends as the Node CLI does when its reader goes away (exit 141)', async () => {
    const dir = await makeTempDir('launch-pipe');
    // 4 MiB into a pipe whose reader leaves after one byte: the writes after it fail with EPIPE.
    const piped = (cmd: string, env: NodeJS.ProcessEnv) =>
      run(
        '/bin/bash',
        ['-c', `${cmd} python -c 'print("x" * 4194304)' | /usr/bin/head -c1 >/dev/null; echo \${PIPESTATUS[0]}`],
        env,
        dir,
      );
    const native = text(await piped(`"${launcherBin}"`, bare));
    const node = text(await piped(`"${process.execPath}" "${shadowboxBin}"`, d.env));
    expect(native).toEqual({ code: 0, stdout: '141\n', stderr: '' });
    expect(native).toEqual(node);
  });

  it('writes all of its output to a non-blocking pipe whose reader is slow', async () => {
    const dir = await makeTempDir('launch-nonblock');
    // python3 makes the pipe, sets O_NONBLOCK on the launcher's end, and starts reading only after the launcher
    // has filled it (a writer that gave up at EAGAIN would lose the rest).
    const script = [
      'import fcntl, os, subprocess, sys, time',
      'r, w = os.pipe()',
      'fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)',
      'p = subprocess.Popen(sys.argv[1:], stdout=w)',
      'os.close(w)',
      'time.sleep(1)',
      'data = b""',
      'while chunk := os.read(r, 65536): data += chunk',
      'print(p.wait(), len(data), data.endswith(b"END\\n"))',
    ].join('\n');
    const r = text(
      await run(
        '/usr/bin/python3',
        ['-c', script, launcherBin, 'python', '-c', 'import sys; sys.stdout.write("x" * 2000000); print("END")'],
        bare,
        dir,
      ),
    );
    expect(r).toEqual({ code: 0, stdout: '0 2000004 True\n', stderr: '' });
  });

  it('reads a closed stdin, stdout or stderr as /dev/null, as Node does (not the socket that takes its number)', async () => {
    const dir = await makeTempDir('launch-closed');
    await writeFile(path.join(dir, 'p.py'), 'import sys\nprint(repr(sys.stdin.read()), file=sys.stderr)\n');
    const closed = (cmd: string, env: NodeJS.ProcessEnv) =>
      run(
        '/bin/bash',
        [
          '-c',
          `${cmd} python - <&- 2>/dev/null; ${cmd} python p.py <&- 2>&1; ${cmd} python -c 'print(1)' >&-; echo $?`,
        ],
        env,
        dir,
      );
    const native = text(await closed(`"${launcherBin}"`, bare));
    expect(native).toEqual({ code: 0, stdout: "''\n0\n", stderr: '' });
    expect(native).toEqual(text(await closed(`"${process.execPath}" "${shadowboxBin}"`, d.env)));
  });

  it('waits on a non-blocking stdin for the program to arrive', async () => {
    const dir = await makeTempDir('launch-nbin');
    // python3 gives the launcher a non-blocking pipe as stdin and writes the program into it only a second later.
    const script = [
      'import fcntl, os, subprocess, sys, time',
      'r, w = os.pipe()',
      'fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_NONBLOCK)',
      'p = subprocess.Popen(sys.argv[1:], stdin=r)',
      'os.close(r)',
      'time.sleep(1)',
      'os.write(w, b"print(3 * 14)")',
      'os.close(w)',
      'sys.exit(p.wait())',
    ].join('\n');
    const r = text(await run('/usr/bin/python3', ['-c', script, launcherBin, 'python', '-'], bare, dir));
    expect(r).toEqual({ code: 0, stdout: '42\n', stderr: '' });
  });

  it('says a refusal as the Node CLI does (a deny rule for python in the workspace)', async () => {
    const dirs = [await makeTempDir('launch-deny-n'), await makeTempDir('launch-deny-j')];
    for (const workspace of dirs)
      await c.request(PolicySetRules, { workspace, add: [{ action: 'deny', tool: 'python' }] });
    const native = await run(launcherBin, ['python', '-c', 'print(1)'], bare, dirs[0]);
    const node = await run(process.execPath, [shadowboxBin, 'python', '-c', 'print(1)'], d.env, dirs[1]);
    expect(text(native).stderr).toContain('refused');
    expect(text(native)).toEqual(text(node));
    expect(native.code).not.toBe(0);
  });

  it('prints status as the Node CLI does (uptime and RSS are read at each call)', async () => {
    const dir = await makeTempDir('launch-status');
    const native = text(await run(launcherBin, ['status'], bare, dir));
    const node = text(await run(process.execPath, [shadowboxBin, 'status'], d.env, dir));
    const live = (out: string) => out.replace(/up \d+ s, [\d.]+ MiB RSS/, 'up N s, M MiB RSS');
    expect(native.code).toBe(0);
    expect(native.stdout).toMatch(/^shadowbox daemon \S+ running \(pid \d+, up \d+ s, \d+\.\d MiB RSS\)\n/);
    expect(native.stdout).toContain(`  state dir: ${d.stateDir}\n`);
    expect(native.stdout).toContain('  sandboxes:\n    wasi   available: ');
    expect({ ...native, stdout: live(native.stdout) }).toEqual({ ...node, stdout: live(node.stdout) });
  });

  it('uses the same session as the Node CLI: one per workspace, reused while idle', async () => {
    const dir = await makeTempDir('launch-same');
    expect(text(await run(launcherBin, ['python', '-c', 'open("a.txt","w").write("1")'], bare, dir)).code).toBe(0);
    expect(
      text(await run(process.execPath, [shadowboxBin, 'python', '-c', 'print(open("a.txt").read())'], d.env, dir)),
    ).toMatchObject({ code: 0, stdout: '1\n' });
    expect(text(await run(launcherBin, ['python', '-c', 'print(open("a.txt").read()*2)'], bare, dir))).toMatchObject({
      code: 0,
      stdout: '11\n',
    });
    const mine = (await c.request(SessionList, { workspace: dir })).sessions.filter(
      (s) => s.title === 'shadowbox python',
    );
    expect(mine).toHaveLength(1);
    // Nothing reached the real folder: the writes wait in the shadow workspace for review.
    expect(existsSync(path.join(dir, 'a.txt'))).toBe(false);
  });

  it('hands every other command and form to the Node CLI', async () => {
    const dir = await makeTempDir('launch-other');
    await writeFile(path.join(dir, 'p.py'), 'print("file")\n');
    const handed = [
      ['--version'],
      ['status', '--json'],
      ['status', '--state-dir', d.stateDir],
      ['sessions'],
      ['python', '-V'],
      ['python', '-u', '--help'],
      ['python', '--timeout', '5', '-c', 'pass'],
      ['python', '-c'],
      ['python', '-m'],
      ['python', '-y', 'p.py'],
      // -W with a line terminator for its value: pythonCliInput's /^-[WX]./ does not take it.
      ['python', '-W\n', 'p.py'],
      ['python', '-X\u2028', 'p.py'],
      // Files Node refuses (outside the workspace, or named like it), with its own message.
      ['python', '../p.py'],
      ['python', '/etc/hostname'],
      ['python', '..p.py'],
      ['python', '.'],
    ];
    for (const args of handed) {
      const r = text(await run(launcherBin, args, bare, dir));
      expect(r, args.join(' ')).toMatchObject({ code: 127 });
      expect(r.stderr, args.join(' ')).toContain('shadowbox: cannot run node');
    }
    // With node on PATH, the hand-over runs the Node CLI with the same arguments.
    expect(text(await run(launcherBin, ['python', '-V'], d.env, dir))).toMatchObject({
      code: 0,
      stdout: 'Python 3.11.2\n',
    });
    const outside = text(await run(launcherBin, ['python', '../p.py'], d.env, dir));
    expect(outside).toMatchObject({ code: 1, stderr: expect.stringContaining('is outside the workspace') as string });
    const version = text(await run(launcherBin, ['--version'], d.env, dir));
    expect(version).toEqual(text(await run(process.execPath, [shadowboxBin, '--version'], d.env, dir)));
    expect(version.stdout).toMatch(/^shadowbox \d+\.\d+\.\d+ /);
  });

  it('hands over, before changing anything, when it cannot answer', async () => {
    const dir = await makeTempDir('launch-cannot');
    const py = ['python', '-c', 'print(1)'];
    const handsOver = async (env: NodeJS.ProcessEnv, args = py, cwd = dir) => {
      const r = text(await run(launcherBin, args, env, cwd));
      expect(r).toMatchObject({ code: 127 });
      expect(r.stderr).toContain('shadowbox: cannot run node');
    };
    // Turned off.
    await handsOver({ ...bare, SHADOWBOX_LAUNCHER: '0' });
    await handsOver({ ...bare, SHADOWBOX_LAUNCHER: '0' }, ['status']);
    // No daemon on the socket (Node would start one).
    await handsOver({ ...bare, SHADOWBOX_SOCKET: path.join(dir, 'none.sock') });
    // … before it reads stdin, which Node then reads.
    await writeFile(path.join(dir, 'p.py'), 'print(1)\n');
    await handsOver({ ...bare, SHADOWBOX_SOCKET: path.join(dir, 'none.sock') }, ['python', 'p.py']);
    await handsOver({ ...bare, SHADOWBOX_SOCKET: path.join(dir, 'none.sock') }, ['python', '-']);
    // A state folder whose store does not list python (Node would install it, with progress).
    const empty = await makeTempDir('launch-empty');
    await handsOver({ ...bare, SHADOWBOX_STATE_DIR: empty });
    // status with no daemon for the state folder (no lock; Node says so), or a lock whose process is gone.
    await handsOver({ ...bare, SHADOWBOX_STATE_DIR: empty }, ['status']);
    await writeFile(
      path.join(empty, 'daemon.lock'),
      JSON.stringify({ pid: 2 ** 22 + 1, socketPath: d.socketPath, webUrl: null, startedAt: 'x', version: '0' }),
    );
    await handsOver({ ...bare, SHADOWBOX_STATE_DIR: empty }, ['status']);
    // An argument, or a folder's name, that is not UTF-8 (Node decodes them its own way): made by the shell's
    // printf, as spawn() would encode a JS string as UTF-8.
    const sh = async (env: NodeJS.ProcessEnv, args: string[]) => {
      const r = text(await run('/bin/sh', args, env, dir));
      expect(r).toMatchObject({ code: 127 });
      expect(r.stderr).toContain('shadowbox: cannot run node');
    };
    await sh(bare, ['-c', `exec "$0" python -c "$(printf 'print(1)\\377')"`, launcherBin]);
    await sh(bare, [
      '-c',
      `/bin/mkdir "$(printf 'a\\376')" && cd "$(printf 'a\\376')" && exec "$0" python -c 'print(1)'`,
      launcherBin,
    ]);
    // None of these made a session for their workspace.
    const made = (await c.request(SessionList, {})).sessions.filter((s) => s.workspace === dir);
    expect(made).toEqual([]);
    expect(await readFile(path.join(d.stateDir, 'bundles/installed.json'), 'utf8')).toContain('python');
  });
});
