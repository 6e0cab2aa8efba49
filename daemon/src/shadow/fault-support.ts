// Test support for the shadow's fault-injection suite (fault-injection.test.ts): a scenario is a setup and
// a list of steps run against a shadow service; a reference run records what the review and the person's
// files look like after each step; a crashed or disk-full run must end, after recovery, at one of them.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ShadowService } from './service.js';

/** One scenario: `setup` runs once (in-process); `steps` are JS bodies run with `svc`, `view` and `t` (also in a child). */
export interface Scenario {
  name: string;
  files: Record<string, string>;
  setup: (svc: ShadowService, root: string) => Promise<void>;
  steps: string[];
  /** Extra service options as JS (child) and as values (reference/recovery). */
  gc?: Record<string, number>;
  /** After a crash, before recovery: the person edits one file the crash left with new bytes (accept scenarios). */
  personEdits?: boolean;
}

/** What the person sees: the pending review (paths, kinds, patches), the undo depth, and history's commit count. */
export interface Snapshot {
  review: unknown;
  files: Record<string, string>;
}

/** A tiny seeded PRNG (mulberry32): the same seed gives the same kill points on every machine. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct points in 1..n (always the first and the last), chosen by `rand`. */
export function pickPoints(n: number, count: number, rand: () => number): number[] {
  const out = new Set<number>([1, n]);
  while (out.size < Math.min(count, n)) out.add(1 + Math.floor(rand() * n));
  return [...out].sort((a, b) => a - b);
}

/** Every regular file of the workspace (outside .git), path → content. */
export function realFiles(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath, e.name);
    const rel = path.relative(root, full).split(path.sep).join('/');
    if (rel.split('/')[0] === '.git' || !e.isFile()) continue;
    out[rel] = readFileSync(full, 'utf8');
  }
  return out;
}

/** The review and the files, as one comparable value. */
export async function snapshot(svc: ShadowService, root: string): Promise<Snapshot> {
  const t = { sessionId: 's1', workspace: root };
  const d = await svc.diff(t);
  const st = await svc.status(t);
  return {
    review: {
      files: d.files.map((f) => [f.path, f.change, f.patch]),
      undoable: st.undoable,
      commits: st.commits.length,
    },
    files: realFiles(root),
  };
}

/** Index of the reference snapshot `s` equals (review and files), or -1. */
export function matchSnapshot(s: Snapshot, refs: Snapshot[]): number {
  return refs.findIndex((r) => isDeepStrictEqual(r.review, s.review) && isDeepStrictEqual(r.files, s.files));
}

/** Temp files accept or undo left in the workspace. */
export function leftoverTemps(root: string): string[] {
  return readdirSync(root, { recursive: true })
    .map(String)
    .filter((n) => n.includes('.sbx-'));
}

/** `git fsck --strict` of the shadow repository (empty when clean or when there is none yet). */
export function fsckShadow(stateDir: string): string {
  const wsDir = path.join(stateDir, 'workspaces');
  let ids: string[];
  try {
    ids = readdirSync(wsDir);
  } catch {
    return '';
  }
  let out = '';
  for (const id of ids) {
    const repo = path.join(wsDir, id, 'shadow.git');
    try {
      readdirSync(repo);
    } catch {
      continue;
    }
    out += execFileSync('git', ['--git-dir', repo, 'fsck', '--strict', '--no-dangling'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
  return out.trim();
}

/** Replaces `dir` with a copy of `from` (same paths every run: the state dir is keyed by the workspace's path). */
export function restoreCopy(from: string, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  cpSync(from, dir, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
}
