import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { createOverlayView } from '../wasi/test-support.js';
import { defineTool, type AnyTool } from './define.js';
import { createBuiltinTools, createToolRuntime } from './index.js';
import { fakePolicy, memoryAudit, memoryLogger, sessionContext } from './test-support.js';

/** A tool named `counted` (kind edit, no input) that counts its runs. */
function countingTool() {
  const runs = { n: 0 };
  const tool = defineTool({
    name: 'counted',
    kind: 'edit',
    description: 'counts its runs',
    input: z.object({}),
    handler: async () => {
      runs.n++;
      return { content: 'ran' };
    },
  });
  return { tool, runs };
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sbx-tools-'));
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

let handlerRuns = 0;
const echo = defineTool({
  name: 'echo',
  kind: 'other',
  description: 'echoes',
  input: z.object({ text: z.string(), times: z.number().int().min(1).default(1) }).strict(),
  summarize: (i) => `echo ${i.text}`,
  handler: async (i) => {
    handlerRuns++;
    return { content: i.text.repeat(i.times) };
  },
});
const touch = defineTool({
  name: 'touch',
  kind: 'edit',
  description: 'pretends to change a path',
  input: z.object({ path: z.string() }),
  targets: (i) => ({ paths: [i.path] }),
  handler: async (i) => ({ content: 'ok', changed: [i.path] }),
});

function setup(
  tools: AnyTool[],
  decide = fakePolicy(),
  answer?: Parameters<typeof sessionContext>[1],
  maxContentBytes?: number,
) {
  const audit = memoryAudit();
  const logger = memoryLogger();
  const runtime = createToolRuntime({
    tools,
    policy: decide.policy,
    audit,
    logger,
    ...(maxContentBytes ? { maxContentBytes } : {}),
  });
  const view = createOverlayView(root);
  const { ctx, questions } = sessionContext(view, answer);
  const agent = runtime.forSession(ctx);
  let n = 0;
  const call = (name: string, input: unknown, signal = new AbortController().signal) =>
    agent.call({ turnId: 't1', callId: `c${++n}`, name, input, signal });
  return { runtime, agent, call, audit, logger, questions, view, ...decide };
}

describe('tool runtime', () => {
  it('lists tools with JSON Schemas, kinds and sources, and describes calls', () => {
    const mcp = defineTool({
      name: 'mcp__srv__x',
      kind: 'other',
      description: 'x',
      input: z.object({}),
      handler: async () => ({ content: '' }),
    });
    const { runtime, agent } = setup([...createBuiltinTools(), echo, mcp]);
    const read = runtime.list().find((t) => t.name === 'read_file')!;
    expect(read.kind).toBe('read');
    expect(read.source).toBe('builtin');
    expect(read.inputSchema).toMatchObject({
      type: 'object',
      required: ['path'],
      properties: { path: { type: 'string' } },
    });
    expect(read.inputSchema.$schema).toBeUndefined();
    expect(runtime.list().find((t) => t.name === 'mcp__srv__x')!.source).toBe('mcp');
    expect(agent.specs().map((s) => s.name)).toContain('grep');
    expect(agent.describe('grep', { pattern: 'x' })).toEqual({ kind: 'search', summary: '/x/', concurrent: true });
    expect(agent.describe('echo', { text: 'hi' })).toEqual({ kind: 'other', summary: 'echo hi', concurrent: false });
    expect(agent.describe('echo', { nope: 1 })?.summary).toBe('echo');
    expect(agent.describe('missing', {})).toBeNull();
  });

  it('refuses two tools with one name', () => {
    expect(() => setup([echo, echo])).toThrow(/two tools are named echo/);
  });

  it('answers an unknown tool with the list of tools', async () => {
    const { call, audit } = setup([echo, touch]);
    const r = await call('ech', {});
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.ToolNotFound, reason: 'unknown_tool' });
    expect(r.content).toContain('Available tools: echo, touch');
    expect(audit.entries[0].data).toMatchObject({ tool: 'ech', outcome: 'error', reason: 'unknown_tool' });
  });

  it('tells the model which fields are wrong and how to fix them, without asking the policy', async () => {
    const { call, queries } = setup([echo]);
    handlerRuns = 0;
    const r = await call('echo', { times: 0.5, colour: 'red' });
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.ToolInputInvalid, reason: 'invalid_input' });
    expect(r.content).toContain('The arguments for echo are invalid');
    expect(r.content).toContain('`text`: missing; it is required (expected string)');
    expect(r.content).toMatch(/`times`: .*expected int.*\(got 0\.5\)/);
    expect(r.content).toContain('`colour`: not a parameter of echo; remove it');
    expect(r.content).toContain('Expected arguments: text (string, required), times (integer)');
    expect(r.data).toEqual({ fields: ['text', 'times', 'colour'] });
    expect(queries).toHaveLength(0);
    expect(handlerRuns).toBe(0);
    const notObject = await call('echo', 'hello');
    expect(notObject.content).toContain('must be one JSON object');
  });

  it('denies by policy with the rule, without running the handler', async () => {
    const { call, questions } = setup([echo], fakePolicy({ action: 'deny', rule: 'mode:read-only kind:other' }));
    handlerRuns = 0;
    const r = await call('echo', { text: 'x' });
    expect(r).toMatchObject({
      isError: true,
      code: ErrorCodes.PermissionDenied,
      reason: 'policy_denied',
      decision: { action: 'deny', rule: 'mode:read-only kind:other' },
    });
    expect(r.content).toContain('mode:read-only kind:other');
    expect(handlerRuns).toBe(0);
    expect(questions).toHaveLength(0);
  });

  it('runs an allowed call and records the decision', async () => {
    const { call, queries } = setup([echo], fakePolicy({ action: 'allow', rule: 'mode:auto' }));
    const r = await call('echo', { text: 'ab', times: 2 });
    expect(r).toMatchObject({ isError: false, content: 'abab', decision: { action: 'allow', rule: 'mode:auto' } });
    expect(queries[0]).toEqual({
      workspace: root,
      sessionId: 's1',
      mode: 'review',
      tool: 'echo',
      kind: 'other',
      target: {},
    });
  });

  it('asks a person; allow_once runs without a grant', async () => {
    const { call, questions, grants } = setup([echo], fakePolicy({ action: 'ask', rule: 'mode:review kind:other' }), {
      outcome: 'allow_once',
      by: 'client-7',
    });
    const r = await call('echo', { text: 'hi' });
    expect(r).toMatchObject({
      isError: false,
      content: 'hi',
      decision: { action: 'allow', rule: 'mode:review kind:other', by: 'client-7' },
    });
    expect(questions[0]).toEqual({
      turnId: 't1',
      callId: 'c1',
      tool: 'echo',
      kind: 'other',
      summary: 'echo hi',
      input: { text: 'hi' },
      rule: 'mode:review kind:other',
      options: ['allow_once', 'allow_session', 'allow_project', 'deny'],
    });
    expect(grants).toHaveLength(0);
  });

  it('reports "running" only when the call really runs: after the question, never for a denied call', async () => {
    const order: string[] = [];
    const allowed = setup([echo], fakePolicy({ action: 'ask', rule: 'mode:review kind:other' }), {
      outcome: 'allow_once',
      by: 'p',
    });
    const r = await allowed.agent.call({
      turnId: 't1',
      callId: 'a',
      name: 'echo',
      input: { text: 'x' },
      signal: new AbortController().signal,
      onRunning: () => order.push(`running after ${allowed.questions.length} question(s)`),
    });
    expect(r.isError).toBe(false);
    expect(order).toEqual(['running after 1 question(s)']);
    const denied = setup([echo], fakePolicy({ action: 'ask', rule: 'r' }), { outcome: 'deny', by: 'p' });
    const refused = setup([echo], fakePolicy({ action: 'deny', rule: 'r' }));
    for (const s of [denied, refused]) {
      let ran = false;
      await s.agent.call({
        turnId: 't1',
        callId: 'b',
        name: 'echo',
        input: { text: 'x' },
        signal: new AbortController().signal,
        onRunning: () => (ran = true),
      });
      expect(ran).toBe(false);
    }
  });

  it('under an "always ask" project rule offers only the answers that take effect (allow once, deny)', async () => {
    const { call, questions } = setup(
      [echo],
      fakePolicy({ action: 'ask', rule: 'project:ask tool=echo', rememberable: false }),
      { outcome: 'allow_once', by: 'client-7' },
    );
    await call('echo', { text: 'hi' });
    expect(questions[0].options).toEqual(['allow_once', 'deny']);
  });

  it.each([
    ['allow_session', 'session'],
    ['allow_project', 'project'],
  ] as const)('asks a person; %s grants the %s scope', async (outcome, scope) => {
    const { call, grants } = setup([touch], fakePolicy({ action: 'ask', rule: 'r' }), { outcome, by: 'client-1' });
    const r = await call('touch', { path: './src/../src/a.ts' });
    expect(r.isError).toBe(false);
    expect(grants).toEqual([
      {
        q: {
          workspace: root,
          sessionId: 's1',
          mode: 'review',
          tool: 'touch',
          kind: 'edit',
          target: { paths: ['src/a.ts'] },
        },
        scope,
        by: 'client-1',
      },
    ]);
  });

  it.each([
    ['deny', ErrorCodes.PermissionDenied, 'user_denied'],
    ['timeout', ErrorCodes.PermissionTimeout, 'permission_timeout'],
    ['cancelled', ErrorCodes.RequestCancelled, 'cancelled'],
  ] as const)('asks a person; %s does not run the call', async (outcome, code, reason) => {
    const { call, grants } = setup([echo], fakePolicy({ action: 'ask', rule: 'r' }), { outcome, by: 'client-2' });
    handlerRuns = 0;
    const r = await call('echo', { text: 'hi' });
    expect(r).toMatchObject({ isError: true, code, reason, decision: { action: 'deny', rule: 'r' } });
    expect(handlerRuns).toBe(0);
    expect(grants).toHaveLength(0);
  });

  it('gives the policy canonical paths and refuses an escape before asking it', async () => {
    const { call, queries } = setup([touch]);
    await call('touch', { path: 'src/./x/../a.ts' });
    expect(queries[0].target.paths).toEqual(['src/a.ts']);
    const r = await call('touch', { path: '../../etc/passwd' });
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.PathOutsideWorkspace, reason: 'path_escape' });
    expect(queries).toHaveLength(1);
  });

  it('cancels a running handler even when it ignores the signal', async () => {
    let seen: AbortSignal | undefined;
    const stuck = defineTool({
      name: 'stuck',
      kind: 'execute',
      description: 'never ends',
      input: z.object({}),
      handler: (_i, ctx) => {
        seen = ctx.signal;
        return new Promise(() => undefined);
      },
    });
    const { call, audit } = setup([stuck]);
    const ac = new AbortController();
    const pending = call('stuck', {}, ac.signal);
    // Until the handler runs (validation, policy and audit come first): a condition, not a sleep.
    while (!seen) await new Promise((r) => setImmediate(r));
    expect(seen.aborted).toBe(false);
    ac.abort();
    const r = await pending;
    expect(r).toMatchObject({
      isError: true,
      code: ErrorCodes.RequestCancelled,
      reason: 'cancelled',
      content: 'Cancelled while it ran.',
    });
    expect(seen?.aborted).toBe(true);
    expect(audit.entries.at(-1)?.data).toMatchObject({ tool: 'stuck', outcome: 'error', reason: 'cancelled' });
  });

  it('a cancel that arrives while the write-ahead audit entry is written: the handler never starts', async () => {
    let started = 0;
    const spin = defineTool({
      name: 'spin',
      kind: 'execute',
      description: 'runs until cancelled',
      input: z.object({}),
      handler: (_i, ctx) => {
        started++;
        return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped'))));
      },
    });
    const { call, audit } = setup([spin]);
    const ac = new AbortController();
    const append = audit.append.bind(audit);
    audit.append = async (e) => {
      // The person cancels after the policy allowed the call, while its audit entry is being made durable.
      if (e.type === 'tool.start') ac.abort();
      return append(e);
    };
    const r = await call('spin', {}, ac.signal);
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.RequestCancelled, reason: 'cancelled' });
    expect(started).toBe(0);
    expect(audit.entries.at(-1)?.data).toMatchObject({ tool: 'spin', outcome: 'error', reason: 'cancelled' });
  });

  it('caps the content for the model and keeps the full output', async () => {
    const big = defineTool({
      name: 'big',
      kind: 'read',
      description: 'lots of lines',
      input: z.object({}),
      handler: async () => ({ content: Array.from({ length: 5000 }, (_, k) => `line ${k}`).join('\n') }),
    });
    const { call } = setup([big], undefined, undefined, 4096);
    const r = await call('big', {});
    expect(Buffer.byteLength(r.content)).toBeLessThanOrEqual(4096);
    expect(r.content.startsWith('line 0\nline 1\n')).toBe(true);
    expect(r.content.endsWith('line 4999')).toBe(true);
    expect(r.content).toMatch(/\[\.\.\. \d+ bytes \(\d+ lines\) omitted; narrow the request/);
    expect(r.output?.split('\n')).toHaveLength(5000);
  });

  it('turns a ShadowboxError into a coded result and an unknown throw into internal_error', async () => {
    const coded = defineTool({
      name: 'coded',
      kind: 'other',
      description: '',
      input: z.object({}),
      handler: async () => {
        throw new ShadowboxError(ErrorCodes.EditMismatch, 'no_match', 'old_string was not found');
      },
    });
    const boom = defineTool({
      name: 'boom',
      kind: 'other',
      description: '',
      input: z.object({}),
      handler: async () => {
        throw new TypeError('undefined is not a function');
      },
    });
    const sync = defineTool({
      name: 'sync',
      kind: 'other',
      description: '',
      input: z.object({}),
      handler: () => {
        throw new Error('sync throw');
      },
    });
    const { call, logger } = setup([coded, boom, sync]);
    expect(await call('coded', {})).toMatchObject({
      isError: true,
      code: ErrorCodes.EditMismatch,
      reason: 'no_match',
      content: 'coded failed (no_match): old_string was not found',
    });
    const r = await call('boom', {});
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.InternalError, reason: 'internal_error' });
    expect(r.content).toContain('undefined is not a function');
    expect(logger.lines.some((l) => l.startsWith('error tool boom threw: TypeError'))).toBe(true);
    expect(await call('sync', {})).toMatchObject({ isError: true, reason: 'internal_error' });
  });

  it('survives a failing policy, and runs nothing while the audit log cannot be written (write-ahead)', async () => {
    const broken = {
      decide: async () => {
        throw new Error('rules file unreadable');
      },
      grant: async () => undefined,
    };
    const { call } = setup([echo], { policy: broken, queries: [], grants: [] });
    expect(await call('echo', { text: 'x' })).toMatchObject({
      isError: true,
      code: ErrorCodes.PermissionDenied,
      reason: 'policy_failed',
    });
    const logger = memoryLogger();
    const { tool: counted, runs } = countingTool();
    const runtime = createToolRuntime({
      tools: [counted],
      policy: fakePolicy().policy,
      audit: {
        append: async () => {
          throw new ShadowboxError(ErrorCodes.DiskFull, 'disk_full', 'no space left');
        },
      },
      logger,
    });
    const r = await runtime
      .forSession(sessionContext(createOverlayView(root)).ctx)
      .call({ turnId: 't', callId: 'c', name: 'counted', input: {}, signal: new AbortController().signal });
    // Issue 14 §3: the call ran although its audit entry could not be written.
    expect(r).toMatchObject({
      isError: true,
      code: ErrorCodes.AuditFailed,
      reason: 'audit_unavailable',
      data: { causeCode: ErrorCodes.DiskFull, causeReason: 'disk_full' },
    });
    expect(runs.n).toBe(0);
    expect(logger.lines.some((l) => l.includes('audit unavailable') && l.includes('not run'))).toBe(true);
  });

  it('parses an input once per call: both audit entries carry the summary of the validated input', async () => {
    let parses = 0;
    const counted = defineTool({
      name: 'counted',
      kind: 'other',
      description: 'counts the parses of its input',
      input: z.object({ text: z.string() }).refine(() => (parses++, true)),
      summarize: (i) => `counted ${i.text}`,
      handler: async (i) => ({ content: i.text }),
    });
    const { call, audit } = setup([counted]);
    expect(await call('counted', { text: 'x' })).toMatchObject({ isError: false, content: 'x' });
    expect(parses).toBe(1);
    expect(audit.entries.map((e) => [e.type, e.data.summary])).toEqual([
      ['tool.start', 'counted x'],
      ['tool.call', 'counted x'],
    ]);
  });

  it('asks for the view while the write-ahead entry is written; a view that fails is a typed result', async () => {
    const stopping = () => Promise.reject(new ShadowboxError(ErrorCodes.ShuttingDown, 'shutting_down', 'stopping'));
    const audit = memoryAudit();
    const { tool: counted, runs } = countingTool();
    const ctx = { ...sessionContext(createOverlayView(root)).ctx, view: stopping };
    const req = { turnId: 't', callId: 'c', name: 'counted', input: {}, signal: new AbortController().signal };
    const r = await createToolRuntime({ tools: [counted], policy: fakePolicy().policy, audit, logger: memoryLogger() })
      .forSession(ctx)
      .call(req);
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.ShuttingDown, reason: 'shutting_down' });
    expect(audit.entries.map((e) => e.type)).toEqual(['tool.start', 'tool.call']);
    expect(runs.n).toBe(0);
    // The write-ahead entry fails too: the call is refused for that, and the view's failure is not left unhandled.
    const noAudit = {
      append: async () => {
        throw new ShadowboxError(ErrorCodes.DiskFull, 'disk_full', 'no space left');
      },
    };
    const refused = await createToolRuntime({
      tools: [counted],
      policy: fakePolicy().policy,
      audit: noAudit,
      logger: memoryLogger(),
    })
      .forSession(ctx)
      .call(req);
    expect(refused).toMatchObject({ isError: true, reason: 'audit_unavailable' });
    expect(runs.n).toBe(0);
  });

  // Issue 14 §3: a 9,000-level nested input failed in its digest before any audit entry was written.
  it('refuses an input too deep to digest, typed, and records the refusal', async () => {
    let ran = 0;
    const any = defineTool({
      name: 'any',
      kind: 'edit',
      description: 'takes anything',
      input: z.object({ v: z.unknown() }),
      handler: async () => {
        ran++;
        return { content: 'ran' };
      },
    });
    const { call, audit } = setup([any]);
    let deep: unknown = 1;
    for (let i = 0; i < 9000; i++) deep = { a: deep };
    const r = await call('any', { v: deep });
    expect(r).toMatchObject({
      isError: true,
      code: ErrorCodes.AuditFailed,
      reason: 'audit_unavailable',
      data: { cause: 'input_not_digestible', detail: 'too_deep' },
    });
    expect(ran).toBe(0);
    expect(audit.entries.map((e) => e.type)).toEqual(['tool.call']);
    expect(audit.entries[0]?.data).toMatchObject({ tool: 'any', inputDigest: null, inputDigestError: 'too_deep' });
  });

  it('writes one tool.call audit entry with a digest of the input, not the input', async () => {
    const { call, audit } = setup([touch], fakePolicy({ action: 'ask', rule: 'mode:review kind:edit' }), {
      outcome: 'allow_once',
      by: 'client-9',
    });
    const input = { path: 'src/secret-name.ts' };
    await call('touch', input);
    // Write-ahead: `tool.start` before the handler ran, `tool.call` with the outcome after.
    expect(audit.entries.map((x) => x.type)).toEqual(['tool.start', 'tool.call']);
    expect(audit.entries[0]?.data).toMatchObject({ tool: 'touch', callId: 'c1', paths: ['src/secret-name.ts'] });
    const e = audit.entries[1];
    expect(e).toMatchObject({ type: 'tool.call', workspace: root, sessionId: 's1' });
    const expected = `sha256:${createHash('sha256').update('{"path":"src/secret-name.ts"}').digest('hex')}`;
    expect(e.data).toMatchObject({
      tool: 'touch',
      callId: 'c1',
      turnId: 't1',
      kind: 'edit',
      decision: { action: 'allow', rule: 'mode:review kind:edit', by: 'client-9' },
      answer: 'allow_once',
      outcome: 'ok',
      inputDigest: expected,
      inputBytes: 29,
      outputBytes: 2,
      paths: ['src/secret-name.ts'],
      changed: ['src/secret-name.ts'],
    });
    expect(typeof e.data.durationMs).toBe('number');
    expect(JSON.stringify(e.data)).not.toContain('"input"');
  });

  it('digests inputs canonically (key order does not matter)', async () => {
    const { call, audit } = setup([echo]);
    await call('echo', { text: 'a', times: 1 });
    await call('echo', { times: 1, text: 'a' });
    const calls = audit.entries.filter((x) => x.type === 'tool.call');
    expect(calls[0]?.data.inputDigest).toBe(calls[1]?.data.inputDigest);
  });
});
