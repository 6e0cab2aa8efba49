import type { PolicyRule } from '@shadowbox/protocol';
import type { PolicyDecision, PolicyMode, PolicyQuery, ToolKind } from '../tools/index.js';
import { describeRule, escapeGlob, matchPath, namesExactly, ruleMatches, targetsOf } from './match.js';

// The query and verdict are the tool runtime's PolicyPort types: the policy implements that port.
export type { PolicyDecision, PolicyMode, PolicyQuery } from '../tools/index.js';

type Rule = PolicyRule;

/** Everything the decision depends on besides the call itself. */
export interface PolicyInputs {
  /** Project rules (the "always for this project" file), in file order. */
  rules: readonly Rule[];
  /** Session grants ("allow for this session" answers); allow rules only. */
  grants: readonly Rule[];
  /** Path globs no call may write (matched case-insensitively). */
  protectedPaths: readonly string[];
}

/** Protected in every workspace: git's own data and shadowbox's in-workspace config. */
export const DEFAULT_PROTECTED: readonly string[] = ['**/.git/**', '.shadowbox/**'];

const READS: ReadonlySet<ToolKind> = new Set(['read', 'search']);

/** MCP tools run on the host, outside the sandbox: their kind is the server's claim, not a guarantee. */
export function isHostTool(tool: string): boolean {
  return tool.startsWith('mcp__');
}

/**
 * The permission decision, a pure function of the call, the mode and the rules. Order:
 *   1. a target path outside the workspace → deny ("path:outside-workspace");
 *   2. a non-read/search call touching a protected path → deny ("protected:<glob>");
 *   3. project deny rules → deny;
 *   4. read-only mode: anything but read/search → deny (the mode is a ceiling: no rule, grant or
 *      person's answer widens it; see docs/security.md) — except a sandboxed host command without
 *      network (`shell`), which runs on a read-only mount (`readOnlyWorkspace` in the decision);
 *   5. project ask rules → ask (an ask rule means "always ask": grants do not silence it);
 *   6. project allow rules, then session grants → allow;
 *   7. the mode default.
 * A call that is not denied carries `deniedPaths`: the globs of the deny rules that match it but for
 * their path (the runtime refuses those paths in the view the call gets).
 */
export function decide(
  q: Pick<PolicyQuery, 'mode' | 'tool' | 'kind' | 'target'>,
  inputs: PolicyInputs,
): PolicyDecision {
  const { paths: raw, hosts, port, commands, network } = targetsOf(q.target);
  if (raw.some((p) => p === null)) return { action: 'deny', rule: 'path:outside-workspace' };
  const paths = raw as string[];
  const reads = READS.has(q.kind);
  if (!reads) {
    for (const glob of inputs.protectedPaths) {
      if (paths.some((p) => matchPath(glob, p, { nocase: true }))) return { action: 'deny', rule: `protected:${glob}` };
    }
  }
  const call = {
    tool: q.tool,
    kind: q.kind,
    paths,
    hosts,
    ...(port !== undefined ? { port } : {}),
    ...(commands !== undefined ? { commands } : {}),
    ...(network !== undefined ? { network } : {}),
  };
  const first = (action: Rule['action']) => inputs.rules.find((r) => r.action === action && ruleMatches(r, call));
  const deny = first('deny');
  if (deny) return { action: 'deny', rule: describeRule('project', deny) };
  // A sandboxed host command without network may run in read-only mode: on a read-only workspace; `think`
  // tools (the plan) touch nothing.
  const readOnlyCommand = q.mode === 'read-only' && isSandboxedCommand(q) && !network;
  const thinking = q.kind === 'think' && !isHostTool(q.tool);
  if (q.mode === 'read-only' && !reads && !readOnlyCommand && !thinking)
    return { action: 'deny', rule: `mode:read-only kind:${q.kind}${network ? ' network' : ''}` };
  const verdict = (): PolicyDecision => {
    const ask = first('ask');
    // "Always ask": an allow for the session or the project could not silence it, so none is offered.
    if (ask) return { action: 'ask', rule: describeRule('project', ask), rememberable: false };
    // Among the allow rules that match, one naming the host and port exactly is preferred (it is what a
    // non-public address needs); otherwise the first in file order.
    const allows = inputs.rules.filter((r) => r.action === 'allow' && ruleMatches(r, call));
    const allow = allows.find((r) => namesExactly(r, hosts, port)) ?? allows[0];
    if (allow) return allowBy('project', allow, hosts, port);
    const grants = inputs.grants.filter((r) => r.action === 'allow' && ruleMatches(r, call));
    const grant = grants.find((r) => namesExactly(r, hosts, port)) ?? grants[0];
    if (grant) return allowBy('session', grant, hosts, port);
    return modeDefault(q.mode, q.tool, q.kind, { command: isSandboxedCommand(q), network: network === true });
  };
  const v0 = verdict();
  if (v0.action === 'deny') return v0;
  const v: PolicyDecision = readOnlyCommand ? { ...v0, readOnlyWorkspace: true } : v0;
  // A call that may run is still kept out of the paths a deny rule for it names (grep of the root, python).
  const deniedPaths = inputs.rules
    .filter((r) => r.action === 'deny' && r.path !== undefined && ruleMatches({ ...r, path: undefined }, call))
    .map((r) => ({ glob: r.path as string, rule: describeRule('project', r) }));
  return deniedPaths.length ? { ...v, deniedPaths } : v;
}

function allowBy(source: string, rule: Rule, hosts: string[], port: number | undefined): PolicyDecision {
  return {
    action: 'allow',
    rule: describeRule(source, rule),
    ...(namesExactly(rule, hosts, port) ? { exact: true } : {}),
  };
}

/**
 * Mode defaults. read-only: read/search (and think: the plan) only (host MCP tools denied whatever kind they claim).
 * review: reads, edits, deletes and moves land in the shadow layer and are reviewed later, and
 * `execute` tools run in the WASI sandbox, so all allow; fetch, other and MCP tools ask.
 * auto: allow.
 */
export function modeDefault(
  mode: PolicyMode,
  tool: string,
  kind: ToolKind,
  sandboxed: { command: boolean; network: boolean } = { command: false, network: false },
): PolicyDecision {
  if (mode === 'auto') return { action: 'allow', rule: `mode:auto kind:${kind}` };
  if (isHostTool(tool)) return { action: mode === 'read-only' ? 'deny' : 'ask', rule: `mode:${mode} tool=mcp__*` };
  if (mode === 'read-only') {
    // A sandboxed command without network runs on a read-only mount: it can read, and change nothing.
    if (sandboxed.command && !sandboxed.network)
      return { action: 'allow', rule: 'mode:read-only kind:execute (workspace mounted read-only)' };
    // `think` tools (the plan) touch nothing: allowed in every mode.
    return { action: READS.has(kind) || kind === 'think' ? 'allow' : 'deny', rule: `mode:read-only kind:${kind}` };
  }
  // A sandboxed command changes nothing unreviewed without network; with it, it can reach out: a person decides.
  if (sandboxed.command && sandboxed.network) return { action: 'ask', rule: 'mode:review kind:execute network' };
  const action = kind === 'fetch' || kind === 'other' ? 'ask' : 'allow';
  return { action, rule: `mode:review kind:${kind}` };
}

/** A host command in the sandbox (`shell`): a call of kind execute that names its command. */
function isSandboxedCommand(q: Pick<PolicyQuery, 'kind' | 'target'>): boolean {
  return q.kind === 'execute' && q.target.command !== undefined;
}

/**
 * The allow rules that remember a person's "allow for this session / project" answer: the tool by
 * its literal name, narrowed to the asked host for fetch (one rule per host, so a later call to a
 * different host asks again). Paths are not part of a grant: the question was about the tool.
 */
export function grantRulesFor(q: Pick<PolicyQuery, 'tool' | 'kind' | 'target'>): Rule[] {
  const tool = escapeGlob(q.tool);
  const hosts = q.kind === 'fetch' ? (q.target.hosts ?? []) : [];
  if (hosts.length === 0) return [{ action: 'allow', tool }];
  return [...new Set(targetsOf({ hosts }).hosts)].map((host) => ({ action: 'allow' as const, tool, host }));
}
