import type { PolicyAction, PolicyMode } from '@shadowbox/protocol';
import type { SessionToolContext } from '../sessions/index.js';
import type { WorkspaceView } from '../shadow/index.js';
import type { ToolKind, ToolTarget } from './define.js';
import type { DeniedPath } from './restricted-view.js';

/** Policy modes as the session reports them (protocol's PolicyMode). */
export type { PolicyMode };

/** One call as the policy sees it: who, where, which tool, and what it will touch (canonical paths). */
export interface PolicyQuery {
  workspace: string;
  sessionId: string;
  mode: PolicyMode;
  tool: string;
  kind: ToolKind;
  target: ToolTarget;
}

/** The policy's verdict and the rule that produced it, e.g. "mode:review kind:edit". */
export interface PolicyDecision {
  action: PolicyAction;
  rule: string;
  /**
   * For ask: false when remembering an allow would change nothing (a project ask rule always asks, over
   * session grants and project allow rules), so the question offers only allow once and deny.
   */
  rememberable?: boolean;
  /** An allow by a rule that names the call's one host exactly (no wildcard) and its port: what a non-public address needs. */
  exact?: boolean;
  /**
   * Paths this call may not touch although it may run: deny rules with a `path` whose other fields match
   * the call. The runtime hands the handler a view that refuses them and leaves them out of listings.
   */
  deniedPaths?: DeniedPath[];
  /** The call may run only on a read-only workspace (read-only mode lets a sandboxed command run that way). */
  readOnlyWorkspace?: boolean;
}

/**
 * What the tool runtime needs of the permission policy (implemented in ../policy, injected by the
 * daemon's wiring so tools never import the policy).
 */
export interface PolicyPort {
  decide(q: PolicyQuery): Promise<PolicyDecision>;
  /** Remembers a person's "allow for this session" / "always for this project" answer. */
  grant(q: PolicyQuery, scope: 'session' | 'project', by?: string): Promise<void>;
}

/** A tool as tools/list shows it (protocol ToolInfo). */
export interface ToolInfo {
  name: string;
  description: string;
  kind: ToolKind;
  inputSchema: Record<string, unknown>;
  source: 'builtin' | 'bundle' | 'mcp';
}

/** What one session hands the runtime: its identity, mode, ask channel and (lazily) its workspace view. */
export type ToolSessionContext = SessionToolContext & { view: () => Promise<WorkspaceView> };
