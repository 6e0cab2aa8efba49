import type { PlanItem } from '@shadowbox/protocol';
import type { AgentTools, Instructions } from '../agent/index.js';
import type { ModelClient } from '../providers/index.js';
import type { Logger } from '../state/index.js';
import type { Mode, SessionMeta } from './live-session.js';
import type { PermissionOutcome, PermissionQuestion } from './permissions.js';

/** What a session's tools get from the session: identity and a way to ask a person. */
export interface SessionToolContext {
  sessionId: string;
  workspace: string;
  mode: () => Mode;
  ask: (q: PermissionQuestion, signal: AbortSignal) => Promise<{ outcome: PermissionOutcome; by?: string }>;
  /** The driver's editor buffer of a workspace-relative path (unsaved changes included), or null: no such buffer, no answer in time, or a driver without `buffers`. */
  readBuffer?: (path: string) => Promise<string | null>;
  /** Replaces the agent's plan (the `plan` tool): a `plan` session event. */
  updatePlan?: (turnId: string, items: PlanItem[]) => void;
}

export interface SessionManagerDeps {
  stateDir: string;
  logger: Logger;
  defaultModel: () => Promise<string>;
  defaultMode: Mode;
  maxTurns: number;
  permissionTimeoutMs: number;
  /** The system prompt for the session's next model call; `instructions` is the project instructions' text. */
  system: (meta: SessionMeta, instructions: string) => string;
  /** The instruction files for the next model call, read through the session's shadow view (`paths`: what its tools named). */
  instructions?: (meta: SessionMeta, paths: string[]) => Promise<Instructions>;
  /** Paths with pending shadow changes (the compaction record keeps them). */
  pendingChanges?: (meta: SessionMeta) => Promise<string[]>;
  /** Takes back what the dropped turns did to the shadow workspace (shadow.rewind); returns the paths put back. */
  rewindShadow?: (meta: SessionMeta, keep: string[], drop: string[], label: string) => Promise<string[]>;
  /** Fraction of the context window at which older turns are summarized (default 0.7). */
  compactAt?: number;
  createModel: (spec: string) => ModelClient;
  createTools: (ctx: SessionToolContext) => AgentTools;
  /** Turns the turn's shadow changes into one commit; null when nothing changed. */
  checkpoint: (
    meta: SessionMeta,
    turnId: string,
    summary: string,
  ) => Promise<{ commit: string; files: string[] } | null>;
  onSessionEvent?: (meta: SessionMeta, type: string, data: Record<string, unknown>) => void;
  /**
   * Brings up what a session needs beyond the shared tools (its own MCP servers, from meta.mcpServers):
   * called when a session is created, when it is first used after a daemon start (attach, prompt,
   * tools/list, tools/call) and when its servers change. Must not throw; awaited at most openTimeoutMs.
   */
  onSessionOpen?: (meta: SessionMeta) => Promise<void>;
  /** Bound on onSessionOpen (default 20 s); after it the session goes on without what is still starting. */
  openTimeoutMs?: number;
  /**
   * Resolves once the shared tool set is complete (the installed bundles' tools load after the daemon serves):
   * awaited before a session's tools are first used (a turn, tools/list, tools/call). Must not throw.
   */
  toolsReady?: () => Promise<void>;
  /**
   * Called as a turn starts, before its first model call: what the turn's tools will want can start while the model
   * answers (the daemon's spawner process). Must not throw.
   */
  onTurnStart?: (meta: SessionMeta) => void;
  /** Called when a session goes idle (its turn ended): release what it holds open (shadow layer files). Must not throw. */
  onSessionIdle?: (meta: SessionMeta) => Promise<void>;
  /** Wait before an event log retries a failed write (default 500 ms). */
  logRetryMs?: number;
  /** How long readBuffer waits for the driver's buffer/read answer (default BUFFER_READ_TIMEOUT_MS, 300 ms). */
  bufferReadTimeoutMs?: number;
}
