import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCodes } from '../../errors.js';
import { createOverlayView } from '../../wasi/test-support.js';
import type { Tool } from '../index.js';
import { toolCaller } from '../test-support.js';
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
  return { tool, call: toolCaller(tool, view) };
};
// Awaits a condition (no deadline of its own: one that never holds fails by the test's timeout).
const waitFor = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
  return true;
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sbx-grep-'));
  view = createOverlayView(root);
  workers = createGrepWorkers({ idleMs: 200 });
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(root, { recursive: true, force: true });
});

describe('grep: hostile patterns cannot block the daemon', () => {
  it('answers (a+)+$ at once, on the 33-byte file of the report and on a 200k-char aaaa…b line', async () => {
    const { call } = setup();
    put('short.txt', `${'a'.repeat(32)}!`);
    put('long.txt', `${'a'.repeat(200_000)}b\nend aaa\n`);
    // No clock: a backtracking engine takes minutes on 30 a's already, so answering at all (within the
    // test's timeout) is the proof.
    const short = await call({ pattern: '(a+)+$', path: 'short.txt' });
    expect(short).toMatchObject({ isError: false });
    expect(short.content).toContain('No matches');
    const long = await call({ pattern: '(a+)+$', path: 'long.txt' });
    expect(long.content).toBe('long.txt:2: end aaa');
    expect((await call({ pattern: '(a+)+b$', path: 'long.txt' })).content).toMatch(/^long\.txt:1: a{300}\.\.\.$/);
  });

  it('keeps the event loop turning while a slow search runs, then stops at its time budget and says so', async () => {
    put('big.txt', slowText(1 << 20));
    put('small.txt', 'hello #1\n');
    // Order, not time: with a budget longer than the test, the slow search can only end by its cancel, so a
    // second search that answers first was served while it ran. A search blocking the event loop could not.
    const long = setup({ budgetMs: 60_000 });
    const ac = new AbortController();
    let slowDone = false;
    const slow = long.call({ pattern: SLOW, path: 'big.txt' }, ac.signal).finally(() => (slowDone = true));
    await waitFor(() => workers.live() === 1);
    const quick = await long.call({ pattern: 'hello', path: 'small.txt' });
    expect(quick.content).toBe('small.txt:1: hello #1');
    expect(slowDone).toBe(false);
    ac.abort();
    await slow;
    // The budget: a search longer than it stops and says so.
    const { call } = setup({ budgetMs: 700 });
    const r = await call({ pattern: SLOW });
    expect(r.isError).toBe(false);
    expect(r.data).toMatchObject({ stopped: 'time_budget', of: 2 });
    expect(r.content).toContain('grep stopped after 0.7 s (its time budget)');
    expect(await waitFor(() => workers.live() === 0)).toBe(true); // the busy worker was terminated
  });

  it('stops mid-match when cancelled: the handler returns at once and the worker is terminated', async () => {
    const { tool } = setup({ budgetMs: 60_000 });
    put('big.txt', slowText(1 << 20));
    const ac = new AbortController();
    const running = tool.handler(
      { pattern: SLOW, path: '', ignore_case: false, max_matches: 200 },
      { sessionId: 's', workspace: root, view, signal: ac.signal },
    );
    await waitFor(() => workers.live() === 1);
    ac.abort();
    // The search has a 60 s budget: a result saying cancelled is the cancel's doing.
    const r = await running;
    expect(r.data).toMatchObject({ stopped: 'cancelled' });
    expect(await waitFor(() => workers.live() === 0)).toBe(true);
  });

  it('a cancel through the runtime settles the call promptly with RequestCancelled', async () => {
    const { call } = setup({ budgetMs: 60_000 });
    put('big.txt', slowText(1 << 20));
    const ac = new AbortController();
    const running = call({ pattern: SLOW }, ac.signal);
    await waitFor(() => workers.live() === 1);
    ac.abort();
    const r = await running;
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.RequestCancelled });
    expect(await waitFor(() => workers.live() === 0)).toBe(true);
  });

  it('reuses one warm worker between calls and runs concurrent calls on separate workers', async () => {
    // The idle timer is faked: a machine that stalls for its 200 ms between two calls would close the warm worker
    // (a new one, and the old one's exit still to come, made two). It runs out when the test moves it on.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { call } = setup();
    put('a.txt', 'alpha\nbeta\n');
    expect((await call({ pattern: 'beta' })).content).toBe('a.txt:2: beta');
    expect(workers.live()).toBe(1);
    expect((await call({ pattern: 'alpha' })).content).toBe('a.txt:1: alpha');
    expect(workers.live()).toBe(1);
    const both = await Promise.all([call({ pattern: 'a$' }), call({ pattern: '^b' })]);
    expect(both.map((r) => r.content)).toEqual(['a.txt:1: alpha\na.txt:2: beta', 'a.txt:2: beta']);
    vi.advanceTimersByTime(200);
    vi.useRealTimers();
    expect(await waitFor(() => workers.live() === 0)).toBe(true); // idle worker closed after idleMs
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
