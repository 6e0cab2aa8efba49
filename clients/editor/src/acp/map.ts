import path from 'node:path';
import type { SessionNotification, SessionUpdate, StopReason as AcpStopReason, ToolCallContent, ToolCallLocation, ContentBlock } from '@agentclientprotocol/sdk';
import type { SessionEvent } from '@shadowbox/protocol';

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
export function toAcpUpdates(e: SessionEvent, workspace: string, diffs: FileDiffText[] = [], replay = false): SessionUpdate[] {
  const ev = e.event;
  const text = (t: string): ContentBlock => ({ type: 'text', text: t });
  switch (ev.type) {
    case 'user_message':
      return replay ? [{ sessionUpdate: 'user_message_chunk', content: text(ev.text) }] : [];
    case 'message_delta':
      return [{ sessionUpdate: 'agent_message_chunk', content: text(ev.text) }];
    case 'reasoning_delta':
      return [{ sessionUpdate: 'agent_thought_chunk', content: text(ev.text) }];
    case 'tool_call':
      return [
        {
          sessionUpdate: 'tool_call',
          toolCallId: ev.callId,
          title: ev.summary,
          name: ev.tool,
          kind: ev.kind,
          status: 'pending',
          rawInput: ev.input,
          locations: locationsOf(workspace, ev.input),
        },
      ];
    case 'tool_call_update': {
      if (ev.status === 'awaiting_permission') return [];
      if (ev.status === 'running') return [{ sessionUpdate: 'tool_call_update', toolCallId: ev.callId, status: 'in_progress' }];
      const content: ToolCallContent[] = [];
      for (const d of diffs) content.push({ type: 'diff', path: path.resolve(workspace, d.path), oldText: d.oldText, newText: d.newText });
      if (ev.content) content.push({ type: 'content', content: text(ev.content) });
      return [
        {
          sessionUpdate: 'tool_call_update',
          toolCallId: ev.callId,
          status: ev.status === 'completed' ? 'completed' : 'failed',
          content,
          ...(ev.changed?.length ? { locations: ev.changed.map((p) => ({ path: path.resolve(workspace, p) })) } : {}),
          rawOutput: { output: ev.output ?? ev.content, ...(ev.code !== undefined ? { code: ev.code, reason: ev.reason } : {}), ...(ev.data ?? {}) },
        },
      ];
    }
    case 'usage':
      return [];
    case 'settings_changed':
      return [{ sessionUpdate: 'current_mode_update', currentModeId: ev.mode }];
    default:
      return [];
  }
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
    else if (b.type === 'resource' && 'text' in b.resource) parts.push(`<file uri="${b.resource.uri}">\n${b.resource.text}\n</file>`);
  }
  return parts.join('\n\n');
}
