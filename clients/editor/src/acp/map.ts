import path from 'node:path';
import type {
  ContentBlock,
  PermissionOption as AcpPermissionOption,
  RequestPermissionOutcome,
  SessionNotification,
  SessionUpdate,
  StopReason as AcpStopReason,
  ToolCallContent,
  ToolCallLocation,
} from '@agentclientprotocol/sdk';
import {
  ImageMimeType,
  SLASH_COMMANDS,
  type ImageBlock,
  type PermissionRequest,
  type ParamsOf,
  type SessionEvent,
  type Usage,
} from '@shadowbox/protocol';

/** A permission choice the daemon offers and accepts back. */
type PermissionOption = ParamsOf<typeof PermissionRequest>['options'][number];

/** A file's text before and after a tool call, for ACP `diff` content. */
export interface FileDiffText {
  path: string;
  oldText: string | null;
  newText: string;
}

/** Workspace-relative paths a tool input names (path, from/to), as absolute ACP locations. */
export function locationsOf(workspace: string, input: unknown): ToolCallLocation[] {
  if (!input || typeof input !== 'object') return [];
  const o = input as Record<string, unknown>;
  const out: ToolCallLocation[] = [];
  for (const key of ['path', 'file', 'from', 'to']) {
    const v = o[key];
    if (typeof v === 'string' && v.length > 0) {
      const line = typeof o.startLine === 'number' ? o.startLine : typeof o.line === 'number' ? o.line : undefined;
      out.push({ path: path.resolve(workspace, v), ...(line !== undefined && key === 'path' ? { line } : {}) });
    }
  }
  return out;
}

/** What a direct call's title ends with in the editor (a client ran it, not the agent). */
export const CLIENT_MARK = '(run by a client)';

/** shadowbox stop reasons → ACP stop reasons. */
export function acpStopReason(reason: string): AcpStopReason {
  switch (reason) {
    case 'end_turn':
      return 'end_turn';
    case 'max_tokens':
      return 'max_tokens';
    case 'max_turns':
      return 'max_turn_requests';
    case 'refusal':
      return 'refusal';
    case 'cancelled':
    case 'interrupted':
      return 'cancelled';
    default:
      return 'end_turn';
  }
}

/**
 * Maps one shadowbox session event to the ACP `session/update`s it stands for (none for events
 * ACP has no place for). `replay` also maps the person's own messages (session/load).
 */
export function toAcpUpdates(
  e: SessionEvent,
  workspace: string,
  diffs: FileDiffText[] = [],
  replay = false,
): SessionUpdate[] {
  const ev = e.event;
  const text = (t: string): ContentBlock => ({ type: 'text', text: t });
  switch (ev.type) {
    case 'user_message':
      return replay
        ? [
            { sessionUpdate: 'user_message_chunk', content: text(ev.command ? `/${ev.command}` : ev.text) },
            ...(ev.images ?? []).map((i): SessionUpdate => ({
              sessionUpdate: 'user_message_chunk',
              content: { type: 'image', mimeType: i.mimeType, data: i.data },
            })),
          ]
        : [];
    case 'plan':
      return [
        {
          sessionUpdate: 'plan',
          entries: ev.items.map((i) => ({
            content: i.content,
            priority: 'medium',
            status: i.status === 'done' ? 'completed' : i.status,
          })),
        },
      ];
    case 'message_delta':
      return [{ sessionUpdate: 'agent_message_chunk', content: text(ev.text) }];
    case 'reasoning_delta':
      return [{ sessionUpdate: 'agent_thought_chunk', content: text(ev.text) }];
    case 'tool_call':
      return [
        {
          sessionUpdate: 'tool_call',
          toolCallId: ev.callId,
          // A client's direct call (tools/call, e.g. `shadowbox exec`) says so: the agent did not ask for it.
          title: ev.origin === 'client' ? `${ev.summary} ${CLIENT_MARK}` : ev.summary,
          name: ev.tool,
          kind: ev.kind,
          status: 'pending',
          rawInput: ev.input,
          locations: locationsOf(workspace, ev.input),
          ...(ev.origin === 'client'
            ? { _meta: { shadowbox: { origin: 'client', ...(ev.clientId ? { clientId: ev.clientId } : {}) } } }
            : {}),
        },
      ];
    case 'tool_call_update': {
      // ACP's pending covers "awaiting approval"; the question itself is a session/request_permission.
      if (ev.status === 'awaiting_permission')
        return [{ sessionUpdate: 'tool_call_update', toolCallId: ev.callId, status: 'pending' }];
      if (ev.status === 'running')
        return [{ sessionUpdate: 'tool_call_update', toolCallId: ev.callId, status: 'in_progress' }];
      const content: ToolCallContent[] = [];
      for (const d of diffs)
        content.push({ type: 'diff', path: path.resolve(workspace, d.path), oldText: d.oldText, newText: d.newText });
      if (ev.content) content.push({ type: 'content', content: text(ev.content) });
      return [
        {
          sessionUpdate: 'tool_call_update',
          toolCallId: ev.callId,
          status: ev.status === 'completed' ? 'completed' : 'failed',
          content,
          ...(ev.changed?.length ? { locations: ev.changed.map((p) => ({ path: path.resolve(workspace, p) })) } : {}),
          rawOutput: {
            output: ev.output ?? ev.content,
            ...(ev.code !== undefined ? { code: ev.code, reason: ev.reason } : {}),
            ...(ev.data ?? {}),
          },
        },
      ];
    }
    case 'instructions':
      // ACP has no place for the files in effect: a thought says it, `_meta` carries the list.
      return [
        {
          sessionUpdate: 'agent_thought_chunk',
          content: text(
            ev.files.length
              ? `Instruction files in effect: ${ev.files.map((f) => `${f.path}${f.truncated ? ' (truncated)' : ''}`).join(', ')}\n`
              : 'No instruction files in effect now.\n',
          ),
          _meta: { shadowbox: { instructions: ev.files } },
        },
      ];
    case 'model_retry':
      // ACP has no retry update; a thought line keeps the editor from looking stuck while the SDK retries.
      return [
        {
          sessionUpdate: 'agent_thought_chunk',
          content: text(
            `↻ the model call failed (${ev.message}) at ${ev.url}; retrying, attempt ${ev.attempt} of ${ev.maxAttempts}\n`,
          ),
        },
      ];
    case 'usage':
      // Cumulative cost needs the session's total: the relay adds usage_update (usageUpdate below).
      return [];
    case 'settings_changed':
      return [{ sessionUpdate: 'current_mode_update', currentModeId: ev.mode }];
    default:
      return [];
  }
}

/** ACP `usage_update`: tokens the last call sent (the context in use), the window, and the session's cost so far. */
export function usageUpdate(used: number, size: number, costUsd: number | undefined): SessionUpdate {
  return {
    sessionUpdate: 'usage_update',
    used,
    size,
    ...(costUsd !== undefined ? { cost: { amount: costUsd, currency: 'USD' } } : {}),
  };
}

/** ACP's (unstable) `PromptResponse.usage`: the turn's tokens. */
export interface AcpTurnUsage {
  totalTokens: number;
  inputTokens: number;
  outputTokens: number;
  cachedReadTokens?: number;
  cachedWriteTokens?: number;
}

/** The turn's usage as ACP's (unstable) prompt response field carries it; undefined when no call reported any. */
export function turnUsage(u: Usage | undefined): AcpTurnUsage | undefined {
  if (!u) return undefined;
  return {
    totalTokens: u.inputTokens + u.outputTokens,
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    ...(u.cachedInputTokens ? { cachedReadTokens: u.cachedInputTokens } : {}),
    ...(u.cacheWriteTokens ? { cachedWriteTokens: u.cacheWriteTokens } : {}),
  };
}

/** ACP `available_commands_update`: the slash commands the protocol declares (SLASH_COMMANDS). */
export function availableCommands(): SessionUpdate {
  return {
    sessionUpdate: 'available_commands_update',
    availableCommands: SLASH_COMMANDS.map((c) => ({
      name: c.name,
      description: c.description,
      ...('hint' in c ? { input: { hint: c.hint } } : {}),
    })),
  };
}

/** ACP `compaction_update` for a `compaction` event (only for editors that declared `session.compaction`). */
export function compactionUpdate(e: SessionEvent): SessionUpdate[] {
  const ev = e.event;
  if (ev.type !== 'compaction') return [];
  return [
    {
      sessionUpdate: 'compaction_update',
      compactionId: `compaction-${e.seq}`,
      status: 'completed',
      summary: [{ type: 'text', text: ev.summary }],
      _meta: { shadowbox: { compacted: ev.compacted, tokensBefore: ev.tokensBefore, tokensAfter: ev.tokensAfter } },
    },
  ];
}

/** The image blocks of an ACP prompt, as the daemon takes them; null when one has a type models do not take. */
export function promptImages(blocks: ContentBlock[]): ImageBlock[] | null {
  const out: ImageBlock[] = [];
  for (const b of blocks) {
    if (b.type !== 'image') continue;
    const type = ImageMimeType().safeParse(b.mimeType);
    if (!type.success) return null;
    out.push({ mimeType: type.data, data: b.data, ...(b.uri ? { name: b.uri.split('/').pop() ?? b.uri } : {}) });
  }
  return out;
}

/** Live output sent to the editor per update: the last this many characters of the call's output. */
export const LIVE_TAIL_CHARS = 8192;

/**
 * A running call's live output as an ACP update: `tool_call_update` replaces the call's content, so each
 * one carries the output so far (its tail) — the editor shows it growing while the command runs.
 */
export function liveOutputUpdate(live: Map<string, string>, callId: string, text: string): SessionUpdate {
  const all = ((live.get(callId) ?? '') + text).slice(-LIVE_TAIL_CHARS);
  live.set(callId, all);
  return {
    sessionUpdate: 'tool_call_update',
    toolCallId: callId,
    status: 'in_progress',
    content: [{ type: 'content', content: { type: 'text', text: all } }],
  };
}

/** Wraps updates as notifications for one session. */
export function notificationsFor(sessionId: string, updates: SessionUpdate[]): SessionNotification[] {
  return updates.map((update) => ({ sessionId, update }));
}

/** The text of an ACP prompt: text blocks, embedded text resources with their URI, links by URI. */
export function promptText(blocks: ContentBlock[]): string {
  const parts: string[] = [];
  for (const b of blocks) {
    if (b.type === 'text') parts.push(b.text);
    else if (b.type === 'resource_link') parts.push(`[${b.name}](${b.uri})`);
    else if (b.type === 'resource' && 'text' in b.resource)
      parts.push(`<file uri="${b.resource.uri}">\n${b.resource.text}\n</file>`);
  }
  return parts.join('\n\n');
}

/**
 * The ACP options offered for a daemon permission question: allow_always stands for the daemon's
 * "always in this project" (or "this session" when the project choice is not offered);
 * reject_always is always offered, the bridge turns it into a project deny rule.
 */
export function permissionOptions(offered: PermissionOption[]): AcpPermissionOption[] {
  const out: AcpPermissionOption[] = [];
  if (offered.includes('allow_once')) out.push({ optionId: 'allow_once', name: 'Allow once', kind: 'allow_once' });
  if (offered.includes('allow_project'))
    out.push({ optionId: 'allow_always', name: 'Always allow in this project', kind: 'allow_always' });
  else if (offered.includes('allow_session'))
    out.push({ optionId: 'allow_always', name: 'Always allow in this session', kind: 'allow_always' });
  out.push({ optionId: 'reject_once', name: 'Deny', kind: 'reject_once' });
  out.push({ optionId: 'reject_always', name: 'Always deny in this project', kind: 'reject_always' });
  return out;
}

/** What the bridge does with an editor's answer: the daemon outcome, and whether to persist a deny rule. */
export interface PermissionAnswer {
  outcome: PermissionOption;
  persistDeny: boolean;
}

/** Maps the editor's `session/request_permission` answer back to the daemon (cancelled and unknown ids deny). */
export function permissionAnswer(res: RequestPermissionOutcome, offered: PermissionOption[]): PermissionAnswer {
  if (res.outcome !== 'selected') return { outcome: 'deny', persistDeny: false };
  switch (res.optionId) {
    case 'allow_once':
      return { outcome: offered.includes('allow_once') ? 'allow_once' : 'deny', persistDeny: false };
    case 'allow_always':
      if (offered.includes('allow_project')) return { outcome: 'allow_project', persistDeny: false };
      if (offered.includes('allow_session')) return { outcome: 'allow_session', persistDeny: false };
      return { outcome: 'deny', persistDeny: false };
    case 'reject_always':
      return { outcome: 'deny', persistDeny: true };
    default:
      return { outcome: 'deny', persistDeny: false };
  }
}
