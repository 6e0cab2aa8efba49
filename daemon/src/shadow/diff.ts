import { createHash } from 'node:crypto';
import { applyPatch, structuredPatch } from 'diff';

/** One hunk as the protocol shows it (id "path#hash", stable across diff calls and other hunks' accepts). */
export interface HunkInfo {
  id: string;
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: string[];
}

/** Text larger than this (either side) is reviewed as a whole file, without hunks. */
export const MAX_DIFF_BYTES = 4 * 1024 * 1024;

/** Git's heuristic: a NUL byte in the first 8000 bytes makes a file binary. */
export function looksBinary(head: Uint8Array): boolean {
  const n = Math.min(head.byteLength, 8000);
  for (let i = 0; i < n; i++) if (head[i] === 0) return true;
  return false;
}

/** Hunks and a unified patch of old → new for one path; ids hash only the changed lines, so they survive line shifts. */
export function diffText(path: string, oldPath: string, oldText: string, newText: string): { patch: string; hunks: HunkInfo[] } {
  const sp = structuredPatch(`a/${oldPath}`, `b/${path}`, oldText, newText, '', '', { context: 3 });
  const seen = new Map<string, number>();
  const hunks = sp.hunks.map((h) => {
    const changed = h.lines.filter((l) => l.startsWith('+') || l.startsWith('-')).join('\n');
    const hash = createHash('sha256').update(changed).digest('hex').slice(0, 10);
    const n = (seen.get(hash) ?? 0) + 1;
    seen.set(hash, n);
    const header = `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`;
    return { id: `${path}#${n === 1 ? hash : `${hash}-${n}`}`, header, oldStart: h.oldStart, oldLines: h.oldLines, newStart: h.newStart, newLines: h.newLines, lines: h.lines };
  });
  const body = hunks.map((h) => [h.header, ...h.lines].join('\n')).join('\n');
  const patch = hunks.length === 0 ? '' : `--- a/${oldPath}\n+++ b/${path}\n${body}\n`;
  return { patch, hunks };
}

/** Applies a subset of the hunks of old → new to old; null when they no longer apply. */
export function applyHunks(oldText: string, hunks: HunkInfo[]): string | null {
  const sorted = [...hunks].sort((a, b) => a.oldStart - b.oldStart);
  // Each hunk's newStart must be relative to the partially patched text: shift by the line delta of the hunks before it.
  let delta = 0;
  const adjusted = sorted.map((h) => {
    const r = { oldStart: h.oldStart, oldLines: h.oldLines, newStart: h.oldStart + delta, newLines: h.newLines, lines: h.lines };
    delta += h.newLines - h.oldLines;
    return r;
  });
  const out = applyPatch(oldText, { oldFileName: 'a', newFileName: 'b', oldHeader: '', newHeader: '', hunks: adjusted });
  return out === false ? null : out;
}
