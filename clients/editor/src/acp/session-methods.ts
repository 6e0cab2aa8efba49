import {
  PROTOCOL_VERSION,
  RequestError,
  type InitializeRequest,
  type InitializeResponse,
  type LoadSessionRequest,
  type NewSessionRequest,
  type PromptRequest,
  type PromptResponse,
  type ResumeSessionRequest,
  type SessionModeState,
} from '@agentclientprotocol/sdk';
import {
  parseSlashCommand,
  PolicyMode,
  SessionAttach,
  SessionCommand,
  SessionConfigure,
  SessionCreate,
  SessionPrompt,
} from '@shadowbox/protocol';
import type { BridgeState } from './bridge-state.js';
import { relay } from './errors.js';
import { daemonMcpServers } from './mcp-servers.js';
import { sessionUpdates } from './daemon-relay.js';
import {
  acpStopReason,
  availableCommands,
  promptImages,
  promptText,
  toAcpUpdates,
  turnUsage,
  type AcpTurnUsage,
} from './map.js';

const MODES: SessionModeState['availableModes'] = [
  { id: 'read-only', name: 'Read only', description: 'The agent may read and search; nothing else.' },
  {
    id: 'review',
    name: 'Review',
    description: 'Edits land in the shadow workspace for your review; network and MCP ask.',
  },
  {
    id: 'auto',
    name: 'Auto',
    description: 'Everything not denied runs without asking (edits still need review to reach your files).',
  },
];

/** The ACP mode state of a session in `current` mode. */
export const modes = (current: string): SessionModeState => ({ currentModeId: current, availableModes: MODES });

/** ACP initialize: what the bridge offers, and whether the editor serves its buffers (fs/read_text_file). */
export function initialize(s: BridgeState, params: InitializeRequest, version: string): InitializeResponse {
  s.editorReadsFiles = params.clientCapabilities?.fs?.readTextFile === true;
  s.editorShowsCompaction = params.clientCapabilities?.session?.compaction != null;
  return {
    protocolVersion: PROTOCOL_VERSION,
    agentInfo: { name: 'shadowbox', title: 'shadowbox', version },
    agentCapabilities: {
      loadSession: true,
      promptCapabilities: { image: true, audio: false, embeddedContext: true },
      mcpCapabilities: { http: true, sse: false },
      sessionCapabilities: { list: {}, resume: {}, close: {} },
    },
    authMethods: [],
    _meta: {
      shadowbox: {
        review: '_shadowbox/review',
        accept: '_shadowbox/accept',
        reject: '_shadowbox/reject',
        undo: '_shadowbox/undo',
        editorBuffers: s.editorReadsFiles,
      },
    },
  };
}

/** session/new: a daemon session on the editor's cwd; the editor's MCP servers run on the daemon host for it only. */
export async function newSession(s: BridgeState, params: NewSessionRequest) {
  const mcpServers = daemonMcpServers(params.mcpServers, params.cwd, s.log);
  const created = await relay(
    s.daemon.request(SessionCreate, {
      workspace: params.cwd,
      ...(Object.keys(mcpServers).length ? { mcpServers } : {}),
    }),
  );
  s.workspaces.set(created.sessionId, created.workspace);
  s.cwds.set(created.sessionId, params.cwd);
  // Sent after the answer (the editor knows the session by then): the queue goes out in order.
  setImmediate(() => s.send(created.sessionId, [availableCommands()]));
  return { sessionId: created.sessionId, modes: modes(created.mode) };
}

/** Attaches as driver from `fromSeq`; the bridge then relays the session's events. */
export async function attach(s: BridgeState, sessionId: string, fromSeq: number) {
  const r = await relay(s.daemon.request(SessionAttach, { sessionId, driver: true, fromSeq }), sessionId);
  s.workspaces.set(sessionId, r.session.workspace);
  return r;
}

/**
 * session/load (replay from the start) and session/resume (no replay). Both carry "the MCP servers to
 * connect to for this session", so a given list replaces the session's (the daemon restarts nothing when it
 * is the same set; an empty list on a session that has none costs no call); a list left out keeps them.
 */
export async function openSession(s: BridgeState, params: LoadSessionRequest | ResumeSessionRequest, replay: boolean) {
  const r = await attach(s, params.sessionId, replay ? 0 : Number.MAX_SAFE_INTEGER);
  s.cwds.set(params.sessionId, params.cwd);
  if (params.mcpServers !== undefined) {
    const mcpServers = daemonMcpServers(params.mcpServers, params.cwd, s.log);
    if (Object.keys(mcpServers).length > 0 || r.session.mcpServers?.length)
      // A turn running (from another client) keeps the old servers; the load itself still succeeds.
      await s.daemon
        .request(SessionConfigure, { sessionId: params.sessionId, mcpServers })
        .catch((e: unknown) => s.log(`MCP servers of ${params.sessionId} not changed: ${(e as Error).message}`));
  }
  s.costs.set(params.sessionId, replay ? 0 : (r.session.usage?.costUsd ?? 0));
  if (replay) {
    for (const e of r.history)
      s.send(params.sessionId, [...toAcpUpdates(e, r.session.workspace, [], true), ...sessionUpdates(s, e)]);
  }
  s.send(params.sessionId, [availableCommands()]);
  await s.flush(params.sessionId);
  return { modes: modes(r.session.mode) };
}

/**
 * session/prompt: one daemon turn. `$/cancel_request` on the prompt cancels the turn like session/cancel;
 * a turn the editor cancelled ends with stopReason cancelled (ACP), even if it failed on the way.
 */
export async function prompt(s: BridgeState, params: PromptRequest, signal: AbortSignal): Promise<PromptResponse> {
  const { sessionId } = params;
  if (!s.workspaces.has(sessionId)) await attach(s, sessionId, Number.MAX_SAFE_INTEGER);
  const text = promptText(params.prompt);
  const images = promptImages(params.prompt);
  if (images === null) throw RequestError.invalidParams(undefined, 'images must be PNG, JPEG, GIF or WebP');
  if (!text.trim()) throw RequestError.invalidParams(undefined, 'the prompt has no text');
  const command = parseSlashCommand(text);
  if (command) return runCommand(s, sessionId, command, signal);
  const onAbort = () => void s.cancelTurn(sessionId);
  signal.addEventListener('abort', onAbort, { once: true });
  s.cancelling.delete(sessionId);
  try {
    const r = await relay(
      s.daemon.request(SessionPrompt, { sessionId, text, ...(images.length ? { images } : {}) }),
      sessionId,
    );
    await s.flush(sessionId);
    if (s.cancelling.has(sessionId)) return { stopReason: 'cancelled' };
    if (r.stopReason === 'error')
      throw new RequestError(r.error?.code ?? -32603, r.error?.message ?? 'the turn failed', {
        reason: r.error?.reason,
      });
    // `usage` is ACP's unstable PromptResponse field (the SDK's stable type has no place for it yet).
    const usage = turnUsage(r.usage);
    const response: PromptResponse & { usage?: AcpTurnUsage } = {
      stopReason: acpStopReason(r.stopReason),
      ...(usage ? { usage } : {}),
    };
    return response;
  } finally {
    signal.removeEventListener('abort', onAbort);
    s.cancelling.delete(sessionId);
  }
}

/**
 * A prompt that is one of the advertised slash commands (`/accept src/a.ts#3f2a`, `/rewind 2`) runs in the
 * daemon (session/command); its answer is the agent's message. A refusal is said the same way (a command is
 * the person's own action, not a failed turn).
 */
async function runCommand(
  s: BridgeState,
  sessionId: string,
  c: { command: string; args: string },
  signal: AbortSignal,
): Promise<PromptResponse> {
  const say = (text: string) =>
    s.send(sessionId, [{ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text } }]);
  try {
    const r = await s.daemon.request(SessionCommand, { sessionId, command: c.command, args: c.args }, signal);
    say(r.text);
  } catch (e) {
    const err = e as { message?: string; data?: { reason?: string } };
    say(`/${c.command} failed: ${err.message ?? String(e)}${err.data?.reason ? ` (${err.data.reason})` : ''}`);
  }
  await s.flush(sessionId);
  return { stopReason: signal.aborted ? 'cancelled' : 'end_turn' };
}

/** session/set_mode: one of the policy modes. */
export async function setMode(s: BridgeState, sessionId: string, modeId: string) {
  const mode = PolicyMode().safeParse(modeId);
  if (!mode.success)
    throw RequestError.invalidParams({ modeId, modes: PolicyMode().options }, `unknown mode "${modeId}"`);
  await relay(s.daemon.request(SessionConfigure, { sessionId, mode: mode.data }), sessionId);
  return {};
}
