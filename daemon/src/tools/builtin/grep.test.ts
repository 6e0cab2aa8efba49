import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../errors.js';
import { createOverlayView } from '../../wasi/test-support.js';
import { createToolRuntime, type Tool } from '../index.js';
import { fakePolicy, memoryAudit, memoryLogger, sessionContext } from '../test-support.js';
import { createGrepTool, type GrepToolOptions } from './grep.js';
import { createGrepWorkers, type GrepWorkers } from './grep-worker.js';

// A linear-time pattern that still costs RE2 10+ µs per byte of varied text: the \\b-guarded counted
// repeat blows up its DFA, so it runs on the NFA ("x\\by" can never match). 1 MiB takes ~10 s, so
// it is what the budget and cancel have to stop.
const SLOW = '\\b[\\s\\S]{0,999}\\bx\\by';
const slowText = (bytes: number) => {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789 _=(){};.,x#';
  let seed = 1;
  const out: string[] = [];
  for (let i = 0; i < bytes; i++)
    out.push(chars[Math.floor(((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000) * chars.length)]);
  return `${out.join('')}\n`;
};

let root: string;
let view: ReturnType<typeof createOverlayView>;
let workers: GrepWorkers;

const put = (rel: string, content: string) => writeFileSync(join(root, rel), content);
const setup = (options: GrepToolOptions = {}) => {
  const tool = createGrepTool({ workers, ...options }) as Tool;
  const runtime = createToolRuntime({
    tools: [tool],
    policy: fakePolicy().policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
  const agent = runtime.forSession(sessionContext(view).ctx);
  let n = 0;
  const call = (input: unknown, signal = new AbortController().signal) =>
    agent.call({ turnId: 't', callId: `c${++n}`, name: 'grep', input, signal });
  return { tool, call };
};
const waitFor = async (cond: () => boolean, ms: number) => {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sbx-grep-'));
  view = createOverlayView(root);
  workers = createGrepWorkers({ idleMs: 200 });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('grep: hostile patterns cannot block the daemon', () => {
  it('answers (a+)+$ at once, on the 33-byte file of the report and on a 200k-char aaaa…b line', async () => {
    const { call } = setup();
    put('short.txt', `${'a'.repeat(32)}!`);
    put('long.txt', `${'a'.repeat(200_000)}b\nend aaa\n`);
    const t = performance.now();
    const short = await call({ pattern: '(a+)+$', path: 'short.txt' });
    expect(short).toMatchObject({ isError: false });
    expect(short.content).toContain('No matches');
    const long = await call({ pattern: '(a+)+$', path: 'long.txt' });
    expect(long.content).toBe('long.txt:2: end aaa');
    expect((await call({ pattern: '(a+)+b$', path: 'long.txt' })).content).toMatch(/^long\.txt:1: a{300}\.\.\.$/);
    expect(performance.now() - t).toBeLessThan(3000); // the JS engine takes minutes on 30 a's already
  });

  it('keeps the event loop turning while a slow search runs, then stops at its time budget and says so', async () => {
    const { call } = setup({ budgetMs: 700 });
    put('big.txt', slowText(1 << 20));
    put('small.txt', 'hello #1\n');
    let maxLag = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 10);
      last = now;
    }, 10);
    const t = performance.now();
    const r = await call({ pattern: SLOW });
    const took = performance.now() - t;
    clearInterval(tick);
    expect(r.isError).toBe(false);
    expect(r.data).toMatchObject({ stopped: 'time_budget', of: 2 });
    expect(r.content).toContain('grep stopped after 0.7 s (its time budget)');
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(3000);
    expect(maxLag).toBeLessThan(250); // blocked, it would be the whole search (seconds)
    expect(await waitFor(() => workers.live() === 0, 2000)).toBe(true); // the busy worker was terminated
  });

  it('stops mid-match when cancelled: the handler returns at once and the worker is terminated', async () => {
    const { tool } = setup({ budgetMs: 60_000 });
    put('big.txt', slowText(1 << 20));
    const ac = new AbortController();
    const running = tool.handler(
      { pattern: SLOW, path: '', ignore_case: false, max_matches: 200 },
      { sessionId: 's', workspace: root, view, signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(workers.live()).toBe(1);
    const t = performance.now();
    ac.abort();
    const r = await running;
    expect(performance.now() - t).toBeLessThan(500);
    expect(r.data).toMatchObject({ stopped: 'cancelled' });
    expect(await waitFor(() => workers.live() === 0, 2000)).toBe(true);
  });

  it('a cancel through the runtime settles the call promptly with RequestCancelled', async () => {
    const { call } = setup({ budgetMs: 60_000 });
    put('big.txt', slowText(1 << 20));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const t = performance.now();
    const r = await call({ pattern: SLOW }, ac.signal);
    expect(performance.now() - t).toBeLessThan(1500);
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.RequestCancelled });
    expect(await waitFor(() => workers.live() === 0, 2000)).toBe(true);
  });

  it('reuses one warm worker between calls and runs concurrent calls on separate workers', async () => {
    const { call } = setup();
    put('a.txt', 'alpha\nbeta\n');
    expect((await call({ pattern: 'beta' })).content).toBe('a.txt:2: beta');
    expect(workers.live()).toBe(1);
    expect((await call({ pattern: 'alpha' })).content).toBe('a.txt:1: alpha');
    expect(workers.live()).toBe(1);
    const both = await Promise.all([call({ pattern: 'a$' }), call({ pattern: '^b' })]);
    expect(both.map((r) => r.content)).toEqual(['a.txt:1: alpha\na.txt:2: beta', 'a.txt:2: beta']);
    expect(await waitFor(() => workers.live() === 0, 2000)).toBe(true); // idle worker closed after idleMs
  });

  it('reports a worker that dies (out of memory) as a tool error, and the next call still works', async () => {
    const { call } = setup({ workers: createGrepWorkers({ maxHeapMb: 2 }) });
    put('big.txt', 'x\n'.repeat(3 << 20));
    const r = await call({ pattern: 'x', path: 'big.txt', max_matches: 5000 });
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.ToolFailed, reason: 'grep_worker_failed' });
    put('small.txt', 'ok\n');
    expect((await setup().call({ pattern: 'ok' })).content).toBe('small.txt:1: ok');
  });
});

describe('grep: RE2 syntax', () => {
  it('translates JavaScript syntax: \\u escapes, named groups, [^], \\d, ignore_case', async () => {
    const { call } = setup();
    put('s.txt', 'ABC 42\nfoo=bar\n');
    expect((await call({ pattern: '\\u0041B' })).content).toBe('s.txt:1: ABC 42');
    expect((await call({ pattern: '(?<key>\\w+)=(?<v>\\w+)' })).content).toBe('s.txt:2: foo=bar');
    expect((await call({ pattern: 'C[^]\\d{2}$' })).content).toBe('s.txt:1: ABC 42');
    expect((await call({ pattern: 'abc', ignore_case: true })).content).toBe('s.txt:1: ABC 42');
    expect((await call({ pattern: 'abc' })).content).toContain('No matches');
  });

  it('skips files without a plain-string pattern before matching, and still finds it where it is', async () => {
    const { call } = setup();
    put('a.ts', 'call foo(x) here\nfoo (x)\n');
    put('b.ts', 'nothing\n');
    put('c.ts', 'éfoo(x)\r\n');
    expect((await call({ pattern: 'foo\\(x\\)' })).content).toBe('a.ts:1: call foo(x) here\nc.ts:1: éfoo(x)');
    expect((await call({ pattern: 'éfoo\\(x\\)$' })).content).toBe('c.ts:1: éfoo(x)');
    expect((await call({ pattern: 'FOO\\(X', ignore_case: true })).data).toMatchObject({ matches: 2, files: 3 });
  });

  it('refuses lookaround and backreferences with what to write instead', async () => {
    const { call } = setup();
    put('s.txt', 'x\n');
    for (const pattern of ['foo(?=bar)', 'foo(?!bar)', '(?<=a)b', '(?<!a)b']) {
      const r = await call({ pattern });
      expect(r).toMatchObject({ isError: true, code: ErrorCodes.ToolInputInvalid, reason: 'unsupported_regex' });
      expect(r.content).toContain('no lookahead or lookbehind');
      expect(r.content).toContain('"foo(?=bar)" → "foobar"');
    }
    for (const pattern of ['(\\w+) \\1', '(?<w>a)\\k<w>']) {
      const r = await call({ pattern });
      expect(r).toMatchObject({ isError: true, reason: 'unsupported_regex' });
      expect(r.content).toContain('no backreferences');
    }
    // Escaped or inside a class, the same characters are plain text.
    expect((await call({ pattern: '\\(?=x|[(?=]\\\\1' })).isError).toBe(false);
    expect(await call({ pattern: 'a{1001}' })).toMatchObject({ isError: true, reason: 'unsupported_regex' });
    const bad = await call({ pattern: 'foo(' });
    expect(bad).toMatchObject({ isError: true, reason: 'invalid_regex' });
    expect(bad.content).toContain('Escape special characters');
  });
});
