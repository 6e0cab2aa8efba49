// The docs say what the code does: every code block of README.md and docs/*.md marked ```console runnable is run
// through the real `shadowbox` binary and its output compared by shape.
//
// A runnable block holds `$ command` lines, each followed by the output it shows. Each document runs in its own
// temporary state dir and workspace ($SHADOWBOX_STATE_DIR, the current directory), its blocks in order, then
// `shadowbox stop`. $OPENAI_BASE_URL points at a closed local port (shown as an Ollama that is down,
// http://127.0.0.1:11434/v1), so blocks only use commands that need no model, or show that one is unreachable. An output line matches when it equals the actual line with `…` standing for any text;
// a line that is only `…` stands for any number of lines; `[exit N]` as the last output line is the expected
// exit code (0 otherwise). Trailing spaces are ignored.
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, repoRoot, shadowboxBin } from '../helpers/daemon.js';

export interface Step {
  command: string;
  expected: string[];
  exit: number;
  /** Line of the command in its file (1-based), for failure messages. */
  line: number;
}

/** Runnable blocks of one markdown text, as steps. */
export function runnableSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  const lines = markdown.split('\n');
  let inBlock = false;
  let fence = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (!inBlock) {
      const m = /^(`{3,})console runnable\s*$/.exec(l);
      if (m) {
        inBlock = true;
        fence = m[1];
      }
      continue;
    }
    if (l.startsWith(fence) && l.trim() === fence) {
      inBlock = false;
      continue;
    }
    if (l.startsWith('$ ')) steps.push({ command: l.slice(2), expected: [], exit: 0, line: i + 1 });
    else if (steps.length) {
      const exit = /^\[exit (\d+)\]$/.exec(l.trim());
      if (exit) steps[steps.length - 1].exit = Number(exit[1]);
      else steps[steps.length - 1].expected.push(l);
    }
  }
  if (inBlock) throw new Error('a runnable block is not closed');
  return steps;
}

function lineMatches(pattern: string, actual: string): boolean {
  const parts = pattern
    .trimEnd()
    .split('…')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(actual.trimEnd());
}

/** Does `actual` have the shape of `expected` (lines with `…` wildcards; a lone `…` for any lines)? */
export function shapeMatches(expected: string[], actual: string[]): boolean {
  const exp = [...expected];
  while (exp.length && exp[exp.length - 1].trim() === '') exp.pop();
  const act = [...actual];
  while (act.length && act[act.length - 1].trim() === '') act.pop();
  const go = (i: number, j: number): boolean => {
    if (i === exp.length) return j === act.length;
    if (exp[i].trim() === '…') {
      for (let k = j; k <= act.length; k++) if (go(i + 1, k)) return true;
      return false;
    }
    return j < act.length && lineMatches(exp[i], act[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

const docs = [path.join(repoRoot, 'README.md')];
for (const f of await readdir(path.join(repoRoot, 'docs')))
  if (f.endsWith('.md')) docs.push(path.join(repoRoot, 'docs', f));
const withSteps = (
  await Promise.all(docs.map(async (f) => ({ file: f, steps: runnableSteps(await readFile(f, 'utf8')) })))
).filter((d) => d.steps.length > 0);

describe('runnable blocks of the docs', () => {
  it('finds some, and the shape matcher does what the header says', () => {
    expect(withSteps.length).toBeGreaterThanOrEqual(3);
    expect(shapeMatches(['a …', '…', 'z'], ['a b c', 'x', 'y', 'z'])).toBe(true);
    expect(shapeMatches(['a …', 'z'], ['a b c', 'x', 'z'])).toBe(false);
    expect(shapeMatches(['exactly'], ['exactly not'])).toBe(false);
    expect(shapeMatches(['…'], [])).toBe(true);
  });

  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
  });

  for (const { file, steps } of withSteps) {
    it(`${path.relative(repoRoot, file)}: ${steps.length === 1 ? '1 command gives' : `${steps.length} commands give`} the output shown`, async () => {
      const stateDir = await makeTempDir('docs-st');
      const workspace = await makeTempDir('docs-ws');
      const bin = await makeTempDir('docs-bin');
      // A local port nothing listens on (not a fetch "bad port" such as 9, which undici refuses before connecting).
      const port = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      await writeFile(path.join(workspace, 'notes.txt'), 'one\ntwo\n');
      await mkdir(bin, { recursive: true });
      await writeFile(path.join(bin, 'shadowbox'), `#!/bin/sh\nexec "${process.execPath}" "${shadowboxBin}" "$@"\n`);
      await chmod(path.join(bin, 'shadowbox'), 0o755);
      const env: NodeJS.ProcessEnv = {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        HOME: process.env.HOME,
        LANG: 'C.UTF-8',
        NO_COLOR: '1',
        SHADOWBOX_STATE_DIR: stateDir,
        // A model that is not there: the blocks must not need one (a call would fail at once, named).
        SHADOWBOX_MODEL: 'openai/docs-none',
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
        SHADOWBOX_MODEL_MAX_RETRIES: '0',
      };
      const run = (command: string) =>
        new Promise<{ code: number; out: string }>((resolve) => {
          execFile(
            'bash',
            ['-c', `${command} 2>&1`],
            { cwd: workspace, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
            (err, stdout) => {
              const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
              resolve({ code, out: stdout });
            },
          );
        });
      stops.push(async () => {
        await run('shadowbox stop');
        await rm(stateDir, { recursive: true, force: true });
        await rm(workspace, { recursive: true, force: true });
        await rm(bin, { recursive: true, force: true });
      });
      for (const step of steps) {
        const r = await run(step.command);
        const where = `${path.relative(repoRoot, file)}:${step.line} $ ${step.command}`;
        const actual = r.out
          .replaceAll(workspace, '/work/project')
          .replaceAll(stateDir, '~/.local/state/shadowbox')
          .replaceAll(`127.0.0.1:${port}`, '127.0.0.1:11434');
        expect(r.code, `${where}\n${actual}`).toBe(step.exit);
        expect(
          shapeMatches(step.expected, actual.split('\n')),
          `${where}\n--- shown in the docs\n${step.expected.join('\n')}\n--- actual\n${actual}`,
        ).toBe(true);
      }
    }, 300_000);
  }
});
