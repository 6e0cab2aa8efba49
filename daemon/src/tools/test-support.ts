// Test helpers: fake policy and audit ports, a silent logger, and a session context over a view.
import type { AuditEntryInput, AuditSink } from '../audit/sink.js';
import type { ToolCallOutcome } from '../agent/index.js';
import type { PermissionOutcome, PermissionQuestion } from '../sessions/index.js';
import type { WorkspaceView } from '../shadow/view.js';
import type { Logger } from '../state/index.js';
import type { AnyTool } from './define.js';
import type { PolicyDecision, PolicyPort, PolicyQuery, ToolSessionContext } from './ports.js';
import { createToolRuntime } from './runtime.js';

/** A policy that answers with a fixed decision (or a function of the query) and records grants. */
export function fakePolicy(
  decide: PolicyDecision | ((q: PolicyQuery) => PolicyDecision) = { action: 'allow', rule: 'test:allow' },
) {
  const queries: PolicyQuery[] = [];
  const grants: { q: PolicyQuery; scope: 'session' | 'project'; by?: string }[] = [];
  const policy: PolicyPort = {
    decide: async (q) => {
      queries.push(q);
      return typeof decide === 'function' ? decide(q) : decide;
    },
    grant: async (q, scope, by) => {
      grants.push({ q, scope, ...(by ? { by } : {}) });
    },
  };
  return { policy, queries, grants };
}

/** An audit sink that keeps entries in memory. */
export function memoryAudit(): AuditSink & { entries: AuditEntryInput[] } {
  const entries: AuditEntryInput[] = [];
  return { entries, append: async (e) => void entries.push(e) };
}

/** A logger that keeps lines in memory. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (msg: string) => void lines.push(`${level} ${msg}`);
  return {
    lines,
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    debug: log('debug'),
    close: async () => undefined,
  };
}

/** A session context over a view; `answer` is what the person says to every question. */
export function sessionContext(
  view: WorkspaceView,
  answer: { outcome: PermissionOutcome; by?: string } = { outcome: 'deny' },
) {
  const questions: PermissionQuestion[] = [];
  const ctx: ToolSessionContext = {
    sessionId: 's1',
    workspace: view.root,
    mode: () => 'review',
    ask: async (q) => {
      questions.push(q);
      return answer;
    },
    view: async () => view,
  };
  return { ctx, questions };
}

/** Calls `tool` over `view` through a runtime whose policy allows everything (input checks and audit as in use). */
export function toolCaller(
  tool: AnyTool,
  view: WorkspaceView,
): (input: unknown, signal?: AbortSignal) => Promise<ToolCallOutcome> {
  const runtime = createToolRuntime({
    tools: [tool],
    policy: fakePolicy().policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
  const agent = runtime.forSession(sessionContext(view).ctx);
  let n = 0;
  return (input, signal = new AbortController().signal) =>
    agent.call({ turnId: 't', callId: `c${++n}`, name: tool.name, input, signal });
}
