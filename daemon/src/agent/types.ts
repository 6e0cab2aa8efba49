import type { ErrorReason, PolicyAction, SessionEventBody, ToolKind } from '@shadowbox/protocol';
import type { ToolSpec } from '../providers/index.js';

/** Outcome of one tool call as the runtime reports it (never thrown). */
export interface ToolCallOutcome {
  isError: boolean;
  content: string;
  output?: string;
  code?: number;
  /** A reason protocol declares (any code's). */
  reason?: ErrorReason;
  decision?: { action: PolicyAction; rule: string; by?: string };
  durationMs: number;
  changed?: string[];
  data?: Record<string, unknown>;
  /** Seq of the call's write-ahead audit entry (`tool.start`); the session's event log keeps it for cross-checks. */
  auditSeq?: number;
}

/** What the loop needs of the tool runtime. */
export interface AgentTools {
  specs(): ToolSpec[];
  /** Kind, summary and concurrency of a call; null when the tool is unknown. */
  describe(name: string, input: unknown): { kind: ToolKind; summary: string; concurrent: boolean } | null;
  call(req: {
    turnId: string;
    callId: string;
    name: string;
    input: unknown;
    signal: AbortSignal;
    /** Called when the call really starts (after the policy, any permission question and its audit entry). */
    onRunning?: () => void;
    /** Live output of the running call (shell, python), to send to every attached client. */
    onProgress?: (chunk: { stream: 'stdout' | 'stderr'; text: string }) => void;
  }): Promise<ToolCallOutcome>;
}

export type { Usage } from '@shadowbox/protocol';

export interface TurnError {
  code: number;
  reason: string;
  message: string;
  /** The failure is transient (ProviderUnavailable): the same prompt may work when sent again. */
  retryable?: boolean;
}

/** Limits of one prompt's run. */
export interface TurnLimits {
  maxTurns: number;
  /** Fraction of the context window at which old tool outputs are elided. */
  contextHighWater: number;
  /** Fraction of the context window at which older turns are summarized first (absent: never). */
  compactAt?: number;
}

export type Emit = (body: SessionEventBody) => void;
