// The runtime runs the tools other capabilities declare with defineTool (python, run_bundle).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { createPythonTool } from '../python/python-tool.js';
import type { PythonSandbox } from '../python/runtime.js';
import { createRunBundleTool } from '../wasi/run-bundle-tool.js';
import type { WasiRuntime } from '../wasi/types.js';
import { createOverlayView } from '../wasi/test-support.js';
import { capContent } from './cap.js';
import { createToolRuntime } from './index.js';
import { fakePolicy, memoryAudit, memoryLogger, sessionContext } from './test-support.js';

let root: string;
beforeEach(() => void (root = mkdtempSync(join(tmpdir(), 'sbx-compat-'))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

it('runs python and run_bundle through validation, policy targets and error mapping', async () => {
  const sandbox = {
    run: async () => ({
      exitCode: 0,
      stdout: '42\n',
      stderr: '',
      durationMs: 5,
      timedOut: false,
      cancelled: false,
      error: null,
      changed: ['out.txt'],
    }),
  } as unknown as PythonSandbox;
  const runBundle = createRunBundleTool({
    runtime: {} as WasiRuntime,
    loadBundle: async (name) => {
      throw new ShadowboxError(ErrorCodes.BundleNotFound, 'not_installed', `bundle ${name} is not installed`);
    },
  });
  const p = fakePolicy();
  const runtime = createToolRuntime({
    tools: [createPythonTool(sandbox), runBundle],
    policy: p.policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
  const py = runtime.list().find((t) => t.name === 'python')!;
  expect(py.inputSchema).toMatchObject({ type: 'object', properties: { code: { type: 'string' } } });
  expect(runtime.list().find((t) => t.name === 'run_bundle')!.inputSchema.required).toEqual(['bundle']);
  const agent = runtime.forSession(sessionContext(createOverlayView(root)).ctx);
  const call = (name: string, input: unknown) =>
    agent.call({ turnId: 't', callId: 'c', name, input, signal: new AbortController().signal });

  expect(await call('python', { code: 'print(42)' })).toMatchObject({
    isError: false,
    content: '42\n[changed in the shadow workspace: out.txt]',
    changed: ['out.txt'],
  });
  const both = await call('python', { code: 'x', module: 'y' });
  expect(both).toMatchObject({ isError: true, code: ErrorCodes.ToolInputInvalid });
  expect(both.content).toContain('give exactly one of code, file or module');
  await call('python', { file: './scripts/../run.py' });
  expect(p.queries.at(-1)?.target).toEqual({ resource: 'python', paths: ['run.py'] });
  expect(await call('run_bundle', { bundle: 'sqlite' })).toMatchObject({
    isError: true,
    code: ErrorCodes.BundleNotFound,
    reason: 'not_installed',
  });
  expect(p.queries.at(-1)).toMatchObject({ tool: 'run_bundle', kind: 'execute', target: { resource: 'sqlite' } });
});

it('caps on UTF-8 character boundaries when there are no line breaks', () => {
  const text = 'é'.repeat(10_000);
  const r = capContent(text, 1000);
  expect(r.truncated).toBe(true);
  expect(Buffer.byteLength(r.content)).toBeLessThanOrEqual(1000);
  expect(r.content).not.toContain('\uFFFD');
  expect(capContent('short', 1000)).toEqual({ content: 'short', truncated: false });
});
