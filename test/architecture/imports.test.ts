// The architecture as the imports keep it: the folder-level dependency graph of daemon/src (type imports
// included) has no cycle and is exactly the one docs/architecture.md draws; protocol/ imports nothing of
// ours; clients never import the daemon. Imports are read with TypeScript's own pre-processor.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Files at daemon/src/ any capability may import: they import no capability themselves. */
const SHARED = new Set([
  'errors.ts',
  'canonical.ts',
  'version.ts',
  'glob-base.ts',
  'git-pointer.ts',
  'file-identity.ts',
]);

function sources(glob: string): string[] {
  return execFileSync('git', ['ls-files', glob], { cwd: root, encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !/test-support|test-fixtures/.test(f));
}

function importsOf(file: string): string[] {
  return ts
    .preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true)
    .importedFiles.map((i) => i.fileName);
}

/** daemon/src/X/… → X; daemon/src/errors.ts → shared; daemon.ts and wiring.ts → wiring. */
function nodeOf(file: string): string {
  const rel = path.relative('daemon/src', file).split(path.sep);
  if (rel.length > 1) return rel[0];
  return SHARED.has(rel[0]) ? 'shared' : 'wiring';
}

function daemonGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const f of sources('daemon/src')) {
    const from = nodeOf(f);
    if (!graph.has(from)) graph.set(from, new Set());
    for (const spec of importsOf(f)) {
      if (!spec.startsWith('.')) continue;
      const target = path.normalize(path.join(path.dirname(f), spec)).replace(/\.js$/, '.ts');
      if (!target.startsWith(`daemon${path.sep}src`)) continue;
      const to = nodeOf(target);
      if (to !== from && to !== 'shared') graph.get(from)!.add(to);
    }
  }
  graph.delete('shared');
  return graph;
}

/** The `from → to, to` lines of the fenced block after "<!-- imports -->" in docs/architecture.md. */
function documentedGraph(): Map<string, Set<string>> {
  const doc = readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
  const block = /<!-- imports -->\s*```text\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/architecture.md has no <!-- imports --> block');
  const graph = new Map<string, Set<string>>();
  for (const line of block[1].trim().split('\n')) {
    const [from, to = ''] = line.split('→').map((s) => s.trim());
    graph.set(
      from,
      new Set(
        to
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s && s !== '—'),
      ),
    );
  }
  return graph;
}

function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

const sorted = (g: Map<string, Set<string>>) =>
  Object.fromEntries([...g.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]));

describe('architecture', () => {
  it('daemon capabilities depend on each other without a cycle (type imports included)', () => {
    expect(findCycle(daemonGraph())).toBeNull();
  });

  it('docs/architecture.md draws exactly the folder graph the imports have', () => {
    expect(sorted(documentedGraph())).toEqual(sorted(daemonGraph()));
  });

  it('protocol/ imports only zod and vscode-jsonrpc; clients never import the daemon', () => {
    for (const f of sources('protocol/src'))
      for (const spec of importsOf(f))
        expect(spec.startsWith('.') || spec === 'zod' || spec.startsWith('vscode-jsonrpc'), `${f}: ${spec}`).toBe(true);
    for (const f of sources('clients'))
      for (const spec of importsOf(f))
        expect(/(^|\/)daemon(\/|$)|@shadowbox\/daemon/.test(spec), `${f}: ${spec}`).toBe(false);
  });
});
