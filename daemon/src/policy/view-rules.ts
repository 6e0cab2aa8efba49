import type { PolicyRule } from '@shadowbox/protocol';

type Rule = PolicyRule;

const EDITING_KINDS = new Set<string | undefined>(['edit', 'delete', 'move']);

/**
 * Why: a deny rule on edits of a path (`deny kind=edit path=vendor/**`) says "nothing changes this path";
 * a call's own decision matches it only for tools of that kind, while sandboxed python and bundles
 * (kind execute) write through the same view. Pure: the deny rules with a `path`, an editing `kind`
 * (edit, delete, move) and no `tool` or `host` — their paths join the protected globs the view refuses
 * to write, delete or move, whoever asks. (Deny rules for every kind or for reading are held per call:
 * the runtime hands the handler a view that refuses them, tools/restricted-view.ts.)
 */
export function viewWriteProtected(rules: readonly Rule[]): string[] {
  return rules
    .filter((r) => r.action === 'deny' && r.path !== undefined && r.tool === undefined && r.host === undefined)
    .filter((r) => EDITING_KINDS.has(r.kind))
    .map((r) => r.path!);
}
