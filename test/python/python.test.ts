// The sandboxed python tool through a real daemon: `tools/call` over the socket (policy, audit,
// the session's shadow view), and `shadowbox python` from a workspace folder. Needs the python
// bundle built (`node bundles/scripts/build.mjs python`; scripts/setup.sh and CI do). A missing
// bundle is a failure, not a skip.
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicySetRules, SessionCreate, SessionList, ShadowDiff, ToolsCall } from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { fixture } from '../../daemon/src/wasi/test-support.js';
import { makeTempDir, repoRoot, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

interface PyData {
  stdout: string;
  stderr: string;
  exitCode: number;
  timedOut: boolean;
  error: { reason: string } | null;
  changed: string[];
}

describe('python through the daemon', () => {
  let d: TestDaemon;
  let c: ShadowboxClient;
  let ws: string;
  let outside: string;
  let sessionId: string;

  beforeAll(async () => {
    if (!existsSync(path.join(repoRoot, 'bundles/out/python')))
      throw new Error(
        'bundle python is not built: run `node bundles/scripts/build.mjs python` (scripts/setup.sh does)',
      );
    d = await startTestDaemon({ web: false });
    c = await d.connect('python-e2e');
    ws = await makeTempDir('pyws');
    outside = await makeTempDir('pyout');
    await writeFile(path.join(outside, 'secret.txt'), 'top secret\n');
    await writeFile(path.join(ws, 'data.csv'), 'city,amount\nOslo,3\nLima,4\nOslo,5\n');
    await symlink(path.join(outside, 'secret.txt'), path.join(ws, 'link-out.txt'));
    sessionId = (await c.request(SessionCreate, { workspace: ws })).sessionId;
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  const py = async (input: Record<string, unknown>, sid = sessionId) => {
    const r = await c.request(ToolsCall, { sessionId: sid, tool: 'python', input });
    return { r, data: r.data as unknown as PyData };
  };

  it('runs code on a workspace file and returns output, exit code and duration', async () => {
    const { r, data } = await py({
      code: 'import csv, collections\nc = collections.Counter()\nfor row in csv.DictReader(open("data.csv")): c[row["city"]] += int(row["amount"])\nprint(dict(c))',
    });
    expect(r.isError).toBe(false);
    expect(data.stdout).toBe("{'Oslo': 8, 'Lima': 4}\n");
    expect(data.exitCode).toBe(0);
    expect(r.durationMs).toBeGreaterThan(0);
    const failed = await py({ code: 'import sys; print("bye", file=sys.stderr); sys.exit(3)' });
    expect(failed.r.isError).toBe(true);
    expect(failed.data).toMatchObject({ exitCode: 3, stderr: 'bye\n' });
  });

  it('puts a written file in the shadow workspace (shadow/diff), not in the real one', async () => {
    const { r, data } = await py({
      code: 'import os\nos.makedirs("out", exist_ok=True)\nopen("out/report.txt", "w").write("total 12\\n")\nprint("written")',
    });
    expect(data.stdout).toBe('written\n');
    expect(r.changed).toEqual(['out/report.txt']);
    expect(existsSync(path.join(ws, 'out', 'report.txt'))).toBe(false);
    const diff = await c.request(ShadowDiff, { sessionId });
    const f = diff.files.find((x) => x.path === 'out/report.txt');
    expect(f?.change).toBe('added');
    expect(JSON.stringify(f)).toContain('total 12');
    // The next call in the same session sees its own earlier write through the shadow view.
    expect((await py({ code: 'print(open("out/report.txt").read().strip())' })).data.stdout).toBe('total 12\n');
  });

  it('refuses /etc/passwd, .. and a symlink out of the workspace', async () => {
    const { data } = await py({
      code: [
        'for p in ["/etc/passwd", "../" + __import__("os").path.basename(OUT) + "/secret.txt", "/workspace/../etc/passwd", "link-out.txt"]:',
        '    try:',
        '        print("READ", p, open(p).read())',
        '    except OSError as e:',
        '        print("refused", type(e).__name__)',
      ]
        .join('\n')
        .replace('OUT', JSON.stringify(outside)),
    });
    expect(data.stdout).not.toContain('READ');
    expect(data.stdout).not.toContain('top secret');
    expect(data.stdout.match(/^refused /gm)).toHaveLength(4);
    expect(data.exitCode).toBe(0);
  });

  it('stops while True: pass at the time limit, and the next call works', async () => {
    // The loop never ends: the call returning at all is the limit's doing.
    const { r, data } = await py({ code: 'while True: pass', timeoutMs: 1000 });
    expect(r.isError).toBe(true);
    expect(data.timedOut).toBe(true);
    expect(r.content).toContain('timed out');
    expect((await py({ code: 'print("after")' })).data.stdout).toBe('after\n');
  });

  it('stops 100 MB of output at the limit, survives a 4 GB allocation, explains a missing module', async () => {
    const big = await py({ code: 'import sys\nfor _ in range(100): sys.stdout.write("x" * (1024 * 1024))' });
    expect(big.r.isError).toBe(true);
    expect(big.data.error?.reason).toBe('output_limit');
    expect(big.data.stdout.length).toBeLessThan(9 * 1024 * 1024);
    const mem = await py({
      code: 'try:\n    b = bytearray(4 * 1024**3)\nexcept (MemoryError, OverflowError) as e:\n    print(type(e).__name__)\nprint(len(bytearray(10 * 1024**2)))',
    });
    expect(mem.data.stdout).toBe(`OverflowError\n${10 * 1024 ** 2}\n`);
    const missing = await py({ code: 'import numpy' });
    expect(missing.data.exitCode).toBe(1);
    expect(missing.data.stderr).toContain("module 'numpy' is not available in the sandbox");
    const system = await py({ code: 'import os\ntry:\n    os.system("id")\nexcept OSError as e:\n    print(e)' });
    expect(system.data.stdout).toContain('os.system is not available in the sandbox');
  });

  it('leaks no state between two calls', async () => {
    await py({
      code: 'import builtins, json, os\nbuiltins.LEAK = 1\njson.LEAK = 2\nos.environ["LEAK"] = "3"\nopen("/tmp/leak", "w").write("x")',
    });
    const { data } = await py({
      code: 'import builtins, json, os\nprint(hasattr(builtins, "LEAK"), hasattr(json, "LEAK"), "LEAK" in os.environ, os.path.exists("/tmp/leak"))',
    });
    expect(data.stdout).toBe('False False False False\n');
  });

  describe('netFetch', () => {
    let server: http.Server;
    let url: string;
    let hits = 0;
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        hits++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, ok: true }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => server.close(r));
    });

    const code = (u: string) =>
      [
        'import shadowbox, urllib.request, urllib.error',
        'try:',
        `    print("shadowbox", shadowbox.fetch(${JSON.stringify(`${u}/a`)}).json())`,
        'except shadowbox.FetchError as e:',
        '    print("refused", e.reason)',
        'try:',
        `    print("urllib", urllib.request.urlopen(${JSON.stringify(`${u}/b`)}).read())`,
        'except urllib.error.URLError as e:',
        '    print("urllib refused")',
      ].join('\n');

    it('is refused without a policy rule for the host', async () => {
      const before = hits;
      const { data } = await py({ code: code(url) });
      expect(data.stdout).toBe('refused policy_denied\nurllib refused\n');
      expect(hits).toBe(before);
    });

    // Issue 14 §2: in auto mode the fetch rule used to be built from the URL's own host, so every spelling
    // of a loopback address reached this server. Auto mode never implies a non-public address.
    it('in auto mode, no spelling of a loopback or metadata address is reached', async () => {
      const auto = (await c.request(SessionCreate, { workspace: ws, mode: 'auto' })).sessionId;
      const port = (server.address() as AddressInfo).port;
      const hosts = [
        '127.0.0.1',
        '127.1',
        '0x7f000001',
        '0177.0.0.1',
        '2130706433',
        '0.0.0.0',
        '0',
        'localhost',
        '[::1]',
        '[::]',
        '[::ffff:127.0.0.1]',
        '[0:0:0:0:0:ffff:7f00:1]',
        '[::ffff:169.254.169.254]',
        '[64:ff9b::a9fe:a9fe]',
        '[2002:a9fe:a9fe::1]',
        '169.254.169.254',
        '10.0.0.1',
        '192.168.0.1',
        '100.64.0.1',
        '[fd00::1]',
        '[fe80::1]',
      ];
      const before = hits;
      const { data } = await py(
        {
          code: [
            'import shadowbox',
            `for h in ${JSON.stringify(hosts)}:`,
            '    try:',
            `        shadowbox.fetch("http://%s:${port}/x" % h)`,
            '        print(h, "REACHED")',
            '    except shadowbox.FetchError as e:',
            '        print(h, e.reason)',
          ].join('\n'),
        },
        auto,
      );
      expect(data.stderr).toBe('');
      expect(data.stdout).toBe(hosts.map((h) => `${h} address_not_allowed\n`).join(''));
      expect(hits).toBe(before);
    });

    it('reaches the host once a project rule names its address and port', async () => {
      const port = Number(new URL(url).port);
      // A host rule without the port allows the name, not a loopback address behind it.
      await c.request(PolicySetRules, { workspace: ws, add: [{ action: 'allow', kind: 'fetch', host: '127.0.0.1' }] });
      expect((await py({ code: code(url) })).data.stdout).toBe('refused address_not_allowed\nurllib refused\n');
      await c.request(PolicySetRules, {
        workspace: ws,
        add: [{ action: 'allow', kind: 'fetch', host: '127.0.0.1', port }],
      });
      const before = hits;
      const { data } = await py({ code: code(url) });
      expect(data.stderr).toBe('');
      expect(data.stdout).toBe("shadowbox {'path': '/a', 'ok': True}\nurllib b'{\"path\":\"/b\",\"ok\":true}'\n");
      expect(hits).toBe(before + 2);
      // Other hosts stay refused.
      expect(
        (
          await py({
            code: 'import shadowbox\ntry:\n    shadowbox.fetch("http://127.0.0.2:9/")\nexcept shadowbox.FetchError as e:\n    print(e.reason)',
          })
        ).data.stdout,
      ).toBe('policy_denied\n');
    });
  });

  it('shadowbox python -c runs against the current directory as the workspace', async () => {
    const dir = await makeTempDir('pycli');
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'n.txt'), '41\n');
    const r = await runCli(
      [
        'python',
        '-c',
        'import os\nprint(int(open("sub/n.txt").read()) + 1, os.getcwd())\nopen("made.txt", "w").write("x")',
      ],
      d.env,
      { cwd: dir },
    );
    expect(r.stderr).toContain('1 file changed in the shadow workspace');
    expect(r.stdout).toBe('42 /workspace\n');
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, 'made.txt'))).toBe(false);
    const failing = await runCli(['python', '-c', 'raise SystemExit(7)'], d.env, { cwd: dir });
    expect(failing.code).toBe(7);
    await writeFile(path.join(dir, 'prog.py'), 'import sys\nprint(sys.argv[1:], sys.stdin.read().strip())\n');
    const withStdin = await runCli(['python', 'prog.py', 'x', 'y'], d.env, { cwd: dir, input: 'from stdin' });
    expect(withStdin.stdout).toBe("['x', 'y'] from stdin\n");
    expect(await readFile(path.join(dir, 'prog.py'), 'utf8')).toContain('sys.argv');
    // The three commands ran in one session of this workspace, found among the daemon's other sessions.
    const mine = (await c.request(SessionList, { workspace: dir })).sessions.filter(
      (x) => x.title === 'shadowbox python',
    );
    expect(mine).toHaveLength(1);
    expect(mine[0].prompts).toBe(0);
  }, 60_000);

  it('shadowbox python behaves like python3: -V, -h, -m, --timeout and the output kept at a timeout', async () => {
    const dir = await makeTempDir('pycli2');
    const v = await runCli(['python', '-V'], d.env, { cwd: dir });
    expect(v.stdout).toBe('Python 3.11.2\n');
    expect((await runCli(['python', '--help'], d.env, { cwd: dir })).stdout).toContain('-m mod');
    const m = await runCli(['python', '-m', 'json.tool'], d.env, { cwd: dir, input: '[1,2]' });
    expect(m.stdout).toBe('[\n    1,\n    2\n]\n');
    const slow = await runCli(
      ['python', '--timeout', '0.5', '-c', 'print("so far", flush=True)\nwhile True: pass'],
      d.env,
      { cwd: dir },
    );
    expect(slow.stdout).toBe('so far\n');
    expect(slow.stderr).toMatch(/shadowbox: python was stopped after [\d.]+ s: its time limit/);
    expect(slow.code).toBe(124);
    const tooLong = await runCli(['python', '--timeout', '200', '-c', 'pass'], d.env, { cwd: dir });
    expect(tooLong.code).not.toBe(0);
    expect(tooLong.stderr).toContain('timeout_above_limit');
  }, 60_000);

  it('shadowbox wasi run FILE.wasm mounts workspace folders and refuses others', async () => {
    const dir = await makeTempDir('wasmcli');
    await mkdir(path.join(dir, 'data'));
    await writeFile(path.join(dir, 'data', 'in.txt'), 'hello');
    await writeFile(path.join(dir, 'probe.wasm'), await fixture('probe'));
    const cat = await runCli(['wasi', 'run', 'probe.wasm', '--dir', 'data:/d', '--', 'cat', '/d/in.txt'], d.env, {
      cwd: dir,
    });
    expect(cat.stdout).toBe('hello');
    expect(cat.code).toBe(0);
    const w = await runCli(['wasi', 'run', 'probe.wasm', '--dir', 'data:/d', '--', 'write', '/d/out.txt', 'x'], d.env, {
      cwd: dir,
    });
    expect(w.stderr).toContain('1 file changed in the shadow workspace');
    expect(existsSync(path.join(dir, 'data', 'out.txt'))).toBe(false);
    const out = await runCli(['wasi', 'run', 'probe.wasm', '--dir', '/etc:/etc', '--', 'cat', '/etc/passwd'], d.env, {
      cwd: dir,
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('outside the workspace');
  }, 60_000);

  it('python -m pip installs a wheel from a workspace folder into the shadow .venv, importable afterwards', async () => {
    const sid = (await c.request(SessionCreate, { workspace: await makeTempDir('pypip') })).sessionId;
    const wheel = [
      'import base64, hashlib, os, zipfile',
      'files = {"hello/__init__.py": "def greet():\\n    return \'hello from a wheel\'\\n",',
      '         "hello-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: hello\\nVersion: 1.0\\n",',
      '         "hello-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}',
      'os.makedirs("wheels")',
      'rec = []',
      'with zipfile.ZipFile("wheels/hello-1.0-py3-none-any.whl", "w") as z:',
      '    for name, text in files.items():',
      '        data = text.encode(); z.writestr(name, data)',
      '        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()',
      '        rec.append("%s,sha256=%s,%d" % (name, digest, len(data)))',
      '    z.writestr("hello-1.0.dist-info/RECORD", "\\n".join(rec + ["hello-1.0.dist-info/RECORD,,"]) + "\\n")',
    ].join('\n');
    expect((await py({ code: wheel }, sid)).data.exitCode).toBe(0);
    const pip = await py({ module: 'pip', args: ['install', '--no-index', '--find-links', 'wheels', 'hello'] }, sid);
    expect(pip.data.stdout).toContain('Successfully installed hello-1.0');
    expect(pip.data.changed).toContain('.venv/lib/python3.11/site-packages/hello/__init__.py');
    expect(pip.data.changed.some((p) => p.includes('__pycache__'))).toBe(false);
    expect((await py({ code: 'import hello; print(hello.greet())' }, sid)).data.stdout).toBe('hello from a wheel\n');
  }, 60_000);
});
