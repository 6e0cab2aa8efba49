import type { PolicyRule } from '@shadowbox/protocol';
import type { z } from 'zod';

type Rule = z.infer<typeof PolicyRule>;

/** The path rules the workspace view enforces for every tool, whatever its name or kind. */
export interface ViewPathRules {
  /** Globs no tool may read, list or write: invisible in listings, refused when named. */
  hidden: string[];
  /** Globs no tool may write, delete or move (reads allowed). */
  readOnly: string[];
}

const HIDING_KINDS = new Set<string | undefined>([undefined, 'read', 'search']);
const WRITING_KINDS = new Set<string | undefined>(['edit', 'delete', 'move']);

/**
 * Why: a deny rule on a path has to hold for code that reads and writes the view directly (sandboxed
 * python, bundles, run_bundle), not only for tools that declare their paths to `decide`. Pure: the
 * deny rules with a `path` and no `tool` or `host` — those say "this path, whatever reaches it". Without
 * a kind, or for read/search, the path is hidden (a path that cannot be read cannot be written either:
 * fail closed); for edit/delete/move it is read-only. Rules naming a tool stay decisions per call.
 */
export function viewPathRules(rules: readonly Rule[]): ViewPathRules {
  const out: ViewPathRules = { hidden: [], readOnly: [] };
  for (const r of rules) {
    if (r.action !== 'deny' || r.path === undefined || r.tool !== undefined || r.host !== undefined) continue;
    if (HIDING_KINDS.has(r.kind)) out.hidden.push(r.path);
    else if (WRITING_KINDS.has(r.kind)) out.readOnly.push(r.path);
  }
  return out;
}
