// grep with rg started by the daemon's spawner process gives exactly what it gives with rg started directly.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../../shadow/test-support.js';
import { createSpawner, type Spawner } from '../../spawner/index.js';
import type { Tool } from '../index.js';
import { searchPastArgMax, toolCaller } from '../test-support.js';
import { createGrepTool } from './grep.js';
import { findRipgrep } from './grep-rg.js';
import { createGrepWorkers, type GrepWorkers } from './grep-worker.js';

const rg = findRipgrep();
let ws: ReturnType<typeof makeWorkspace>;
let workers: GrepWorkers;
let spawner: Spawner;
/** The spawner's state at each run it was asked for (all 'ready': every run went through its process). */
let states: string[];

/** The spawner, recording where each run went. */
function recorded(s: Spawner): Spawner {
  return { ...s, spawn: (file, args, o) => (states.push(s.state()), s.spawn(file, args, o)) };
}

beforeEach(async () => {
  // 700 files (three rg runs: 256 first), a few lines each; one with a NUL (rg calls it binary), CRLF lines, and
  // one line longer than grep shows.
  const files: Record<string, string> = { '.gitignore': 'ignored/\n' };
  for (let i = 0; i < 700; i++)
    files[`src/p${i % 7}/f${i}.ts`] =
      `const a${i} = 1;\r\nfunction needle${i}() {}\n// needle ${'x'.repeat(i % 3 ? 10 : 400)}\n`;
  files['src/bin.dat'] = 'needle\0binary\nneedle again\n';
  files['ignored/x.ts'] = 'needle\n';
  ws = makeWorkspace(files);
  workers = createGrepWorkers({ idleMs: 100 });
  states = [];
  spawner = createSpawner();
  spawner.warm();
  await expect.poll(() => spawner.state()).toBe('ready');
});
afterEach(async () => {
  await spawner.close();
  await ws.cleanup();
});

describe.skipIf(!rg)('grep with rg started by the spawner process', () => {
  it('gives what it gives with rg started directly, call by call', async () => {
    const view = await ws.open().view('s1', ws.root);
    const viaSpawner = toolCaller(createGrepTool({ workers, rg, spawner: recorded(spawner) }) as Tool, view);
    const direct = toolCaller(createGrepTool({ workers, rg }) as Tool, view);
    for (const input of [
      { pattern: 'needle' },
      { pattern: 'needle', max_matches: 5000 },
      { pattern: 'needle\\d+\\(', max_matches: 10 },
      { pattern: '1;$' },
      { pattern: 'x{300}' },
      { pattern: 'binary|again' },
      { pattern: 'NEEDLE6', ignore_case: true, path: 'src/p6' },
      { pattern: 'no-such-text' },
      { pattern: '(' }, // refused by both engines: an input error either way
    ]) {
      const a = await viaSpawner(input);
      const b = await direct(input);
      expect({ input, content: a.content, isError: a.isError }).toEqual({
        input,
        content: b.content,
        isError: b.isError,
      });
    }
    expect(states.length).toBeGreaterThan(9);
    expect(new Set(states)).toEqual(new Set(['ready']));
  });

  it('halves its argument budget when the kernel refuses a run through the spawner (E2BIG), and finds every line', async () => {
    const r = await searchPastArgMax(ws.root, rg!, recorded(spawner));
    expect(r.kind).toBe('done');
    if (r.kind !== 'done') return;
    expect(r.searched).toBe(2_600);
    expect([...r.lines.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 26 }, (_, i) => i * 100));
    expect(spawner.state()).toBe('ready');
    expect(states.length).toBeGreaterThan(2); // refused once, then in parts
  });
});
