import type { PolicyMode } from '@shadowbox/protocol';
import type { NetFetchService } from './fetch.js';
import type { FetchAuthorizer, FetchVerdict, NetFetchRequest, NetFetchResponse } from './types.js';

type Mode = PolicyMode;

/** The policy's decide(), narrowed to what a fetch asks: one host (or address) at one port. */
export type FetchPolicyDecide = (q: {
  workspace: string;
  sessionId: string;
  mode: Mode;
  tool: string;
  kind: 'fetch';
  target: { hosts: string[]; port: number };
}) => Promise<FetchVerdict>;

/** A session's workspace and mode, or null when there is no such session. */
export type FetchSessionLookup = (sessionId: string) => { workspace: string; mode: Mode } | null;

/** The authorizer of one tool's fetches in one session. */
export type FetchPolicyFor = (tool: string, sessionId?: string) => FetchAuthorizer;

/**
 * The person's policy as netFetch asks it: each question is a `fetch`-kind decision for the tool
 * (python, or a bundle's name) in the session's mode. "ask" cannot reach a person from inside a running
 * module, so only an allow (a project rule, a grant or auto mode) lets a request through. An address's
 * question also names its embedded IPv4s (6to4, Teredo), so a deny rule for one covers those spellings.
 */
export function createFetchPolicy(deps: { decide: FetchPolicyDecide; session: FetchSessionLookup }): FetchPolicyFor {
  return (tool, sessionId) => async (q) => {
    const s = sessionId ? deps.session(sessionId) : null;
    if (!s || !sessionId) return { action: 'deny', rule: 'netFetch needs a session' };
    const hosts = q.address ? [q.address.canonical, ...q.address.embedded] : [q.host];
    return deps.decide({
      workspace: s.workspace,
      sessionId,
      mode: s.mode,
      tool,
      kind: 'fetch',
      target: { hosts: [...new Set(hosts)], port: q.port },
    });
  };
}

/** A guest's fetch handler: what a sandboxed tool (python) gets instead of the network. */
export type GuestFetch = (
  req: NetFetchRequest,
  ctx: { sessionId?: string; signal?: AbortSignal; maxBytes?: number },
) => Promise<NetFetchResponse>;

/** One tool's guest fetches: every URL and redirect hop is its policy's decision; audited to the session's workspace. */
export function createGuestFetch(deps: {
  service: NetFetchService;
  policy: FetchPolicyFor;
  session: FetchSessionLookup;
}): (tool: string) => GuestFetch {
  return (tool) => (req, ctx) => {
    const workspace = ctx.sessionId ? deps.session(ctx.sessionId)?.workspace : undefined;
    return deps.service.fetch(req, {
      authorize: deps.policy(tool, ctx.sessionId),
      ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
      ...(workspace ? { workspace } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.maxBytes !== undefined ? { maxBytes: ctx.maxBytes } : {}),
    });
  };
}
