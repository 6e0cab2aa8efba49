// Issue 16: real projects, real toolchains, through the scripted model — a Node project (`node --test`), a
// Python one (`python3 -m unittest`), a C one (`make`), each with a bug the agent fixes. The test run sees
// the pending fix, what it writes is reviewable (build output goes to the session's cache, counted, not
// listed), the person's tree is untouched until accept. Once as the test user (root in CI), once as nobody.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditQuery, SessionCreate, SessionPrompt, ShadowAccept, ShadowStatus } from '@shadowbox/protocol';
import type { TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { collect, makeProject, sandboxUsers, shellAvailable, startSandboxDaemon } from './harness.js';

interface Project {
  name: string;
  files: Record<string, string>;
  /** The command that fails on the bug and passes once fixed; its second run also writes a report. */
  test: string;
  report: string;
  fix: { path: string; content: string };
  reportFile: string;
  /** Build output the runs leave (cached, not reviewed). */
  cached: string;
  /** Other files the runs write that are reviewed (not ignored). */
  alsoAdded: string[];
}

const PROJECTS: Project[] = [
  {
    name: 'node (npm install, then node --test)',
    files: {
      'package.json':
        '{ "name": "calc", "version": "1.0.0", "scripts": { "test": "node --test" }, "dependencies": { "twice": "file:./twice" } }\n',
      'twice/package.json': '{ "name": "twice", "version": "1.0.0", "main": "index.js" }\n',
      'twice/index.js': 'module.exports = (x) => 2 * x;\n',
      'sum.js': 'exports.sum = (a, b) => a - b;\n',
      'sum.test.js':
        "const test = require('node:test');\nconst assert = require('node:assert');\nconst twice = require('twice');\nconst { sum } = require('./sum.js');\ntest('adds', () => assert.strictEqual(twice(sum(2, 3)), 10));\n",
    },
    // npm install writes node_modules (the session's cache) and package-lock.json (reviewed); the second run
    // finds node_modules there.
    test: 'npm install --offline --no-audit --no-fund && node --test',
    report:
      'node --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination=report.tap',
    fix: { path: 'sum.js', content: 'exports.sum = (a, b) => a + b;\n' },
    reportFile: 'report.tap',
    cached: 'node_modules',
    alsoAdded: ['package-lock.json'],
  },
  {
    name: 'python (python3 -m unittest)',
    files: {
      'calc.py': 'def mul(a, b):\n    return a + b\n',
      'test_calc.py':
        'import unittest\nfrom calc import mul\n\nclass T(unittest.TestCase):\n    def test_mul(self):\n        self.assertEqual(mul(6, 7), 42)\n\nif __name__ == "__main__":\n    unittest.main()\n',
    },
    test: 'python3 -m unittest',
    report: 'python3 -m unittest -v 2>&1 | tee report.txt',
    fix: { path: 'calc.py', content: 'def mul(a, b):\n    return a * b\n' },
    reportFile: 'report.txt',
    cached: '__pycache__',
    alsoAdded: [],
  },
  {
    name: 'C (make)',
    files: {
      '.gitignore': 'calc\n*.o\n',
      'calc.c':
        '#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v) { printf("%d\\n", atoi(v[1]) + atoi(v[2])); return 0; }\n',
      Makefile:
        'calc: calc.o\n\tcc -o calc calc.o\ncalc.o: calc.c\n\tcc -c -O0 calc.c\ntest: calc\n\t./calc 6 7 > out.txt\n\tgrep -qx 42 out.txt\n.PHONY: test\n',
    },
    test: 'make test',
    report: 'make test && cp out.txt report.txt',
    fix: {
      path: 'calc.c',
      content:
        '#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v) { printf("%d\\n", atoi(v[1]) * atoi(v[2])); return 0; }\n',
    },
    reportFile: 'report.txt',
    cached: 'calc.o',
    alsoAdded: ['out.txt'],
  },
];

for (const as of sandboxUsers()) {
  describe(`real projects through the agent, daemon as ${as}`, () => {
    let model: ModelServer;
    let d: TestDaemon;
    let skip = '';
    beforeAll(async () => {
      model = await startModelServer();
      d = await startSandboxDaemon(as, {
        ...openaiEnv(model),
      });
      const a = await shellAvailable(d);
      if (!a.ok) {
        skip = a.why;
        console.log(`skipped: the host sandbox cannot run here (${a.why})`);
      }
    }, 60_000);
    afterAll(async () => {
      await d?.stop();
      await d?.cleanup();
      await model?.close();
    });

    for (const p of PROJECTS)
      it(`${p.name}: the run sees the pending fix, its report is reviewable, the real tree waits for accept`, async (ctx) => {
        if (skip) return ctx.skip();
        const ws = makeProject(as, p.files);
        const c = await d.connect('test');
        const seen = collect(c);
        const s = await c.request(SessionCreate, { workspace: ws });
        model.push(
          { toolCalls: [{ id: 'run1', name: 'shell', arguments: { command: p.test } }] },
          { toolCalls: [{ id: 'fix', name: 'write_file', arguments: p.fix }] },
          { toolCalls: [{ id: 'run2', name: 'shell', arguments: { command: p.report } }] },
          { text: ['Fixed; the tests pass.'] },
        );
        const turn = await c.request(SessionPrompt, { sessionId: s.sessionId, text: `fix the bug in ${p.fix.path}` });
        expect(turn.stopReason).toBe('end_turn');
        const done = seen.of('tool_call_update').filter((u) => u.status === 'completed' || u.status === 'failed');
        const run1 = done.find((u) => u.callId === 'run1');
        const run2 = done.find((u) => u.callId === 'run2');
        expect(run1?.data?.exitCode, run1?.content).not.toBe(0);
        expect(run2?.data?.exitCode, run2?.content).toBe(0);
        // The output streamed while the command ran.
        expect(seen.of('tool_output').some((o) => o.callId === 'run2' && o.text.length > 0)).toBe(true);
        // The person's files: untouched.
        expect(readFileSync(path.join(ws, p.fix.path), 'utf8')).toBe(p.files[p.fix.path]);
        expect(existsSync(path.join(ws, p.reportFile))).toBe(false);
        const st = await c.request(ShadowStatus, { sessionId: s.sessionId, includeIgnored: true });
        expect(st.files.map((f) => [f.path, f.change])).toEqual(
          [[p.fix.path, 'modified'], [p.reportFile, 'added'], ...p.alsoAdded.map((a) => [a, 'added'])].sort((a, b) =>
            a[0] < b[0] ? -1 : 1,
          ),
        );
        expect(st.ignored?.files).toBeGreaterThan(0);
        expect(st.ignored?.paths?.map((x) => x.path)).toContain(p.cached);
        // The audit entry of the passing run holds the command, cwd, exit status, network decision and changes.
        const audit = await c.request(AuditQuery, { workspace: ws, tool: 'shell' });
        const entry = audit.entries.find((e) => e.type === 'tool.call' && e.data.callId === 'run2');
        expect(entry?.data.run).toMatchObject({
          command: p.report,
          cwd: ws,
          exitCode: 0,
          network: { requested: false },
        });
        expect((entry?.data.run as { changed: string[] }).changed).toContain(p.reportFile);
        await c.request(ShadowAccept, { sessionId: s.sessionId });
        expect(readFileSync(path.join(ws, p.fix.path), 'utf8')).toBe(p.fix.content);
        expect(existsSync(path.join(ws, p.reportFile))).toBe(true);
        c.dispose();
      }, 120_000);
  });
}
