import { isDirectTurn, type AgentTools } from '../agent/index.js';
import { readClientBuffer } from './buffers.js';
import type { SessionManagerDeps } from './deps.js';
import type { LiveSession } from './live-session.js';

/**
 * Each session's tool set, built once and rebuilt after its settings or MCP servers changed: the tools ask a
 * person through the session's permission broker (audited) and read the driver's editor buffers.
 */
export class SessionTools {
  private readonly bySession = new Map<string, AgentTools>();
  /** Sessions that ran a turn or a tool since this daemon started (their live period ends with it). */
  readonly active = new Set<string>();

  constructor(private readonly deps: SessionManagerDeps) {}

  /** The session's tools (marks it active). */
  for(live: LiveSession): AgentTools {
    this.active.add(live.id);
    let t = this.bySession.get(live.id);
    if (!t) {
      t = this.build(live);
      this.bySession.set(live.id, t);
    }
    return t;
  }

  /** The next use rebuilds the session's tools (a running turn keeps the ones it has). */
  invalidate(sessionId: string): void {
    this.bySession.delete(sessionId);
  }

  private build(live: LiveSession): AgentTools {
    return this.deps.createTools({
      sessionId: live.id,
      workspace: live.meta.workspace,
      mode: () => live.meta.mode,
      ask: async (q, signal) => {
        live.emit({
          type: 'tool_call_update',
          turnId: q.turnId,
          callId: q.callId,
          status: 'awaiting_permission',
          ...(isDirectTurn(q.turnId) ? { origin: 'client' as const } : {}),
        });
        const answer = await live.broker.ask(q, signal);
        this.deps.onSessionEvent?.(live.meta, 'permission.answer', {
          turnId: q.turnId,
          callId: q.callId,
          tool: q.tool,
          rule: q.rule,
          outcome: answer.outcome,
          ...(answer.by ? { by: answer.by } : {}),
        });
        return answer;
      },
      updatePlan: (turnId, items) => {
        live.emit({ type: 'plan', turnId, items });
      },
      readBuffer: (rel) =>
        readClientBuffer(
          live.driver === null ? undefined : live.attached.get(live.driver),
          live.id,
          rel,
          this.deps.logger,
          this.deps.bufferReadTimeoutMs,
        ),
    });
  }
}
