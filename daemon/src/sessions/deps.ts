import type { AgentTools } from '../agent/index.js';
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
}

export interface SessionManagerDeps {
  stateDir: string;
  logger: Logger;
  defaultModel: () => Promise<string>;
  defaultMode: Mode;
  maxTurns: number;
  permissionTimeoutMs: number;
  system: (meta: SessionMeta) => string;
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
  /** Called when a session goes idle (its turn ended): release what it holds open (shadow layer files). Must not throw. */
  onSessionIdle?: (meta: SessionMeta) => Promise<void>;
  /** Wait before an event log retries a failed write (default 500 ms). */
  logRetryMs?: number;
  /** How long readBuffer waits for the driver's buffer/read answer (default BUFFER_READ_TIMEOUT_MS, 300 ms). */
  bufferReadTimeoutMs?: number;
}
