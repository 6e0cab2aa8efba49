import path from 'node:path';
import type { RequestPermissionRequest } from '@agentclientprotocol/sdk';
import {
  PolicySetRules,
  ShadowFile,
  type ParamsOf,
  type PermissionRequest,
  type SessionEvent,
} from '@shadowbox/protocol';
import type { BridgeState } from './bridge-state.js';
import {
  liveOutputUpdate,
  locationsOf,
  permissionAnswer,
  permissionOptions,
  toAcpUpdates,
  type FileDiffText,
} from './map.js';

/**
 * What flows from the daemon to the editor: session events become `session/update`s (with the diffs of
 * changed files), permission questions become `session/request_permission`, and buffer reads become
 * `fs/read_text_file`.
 */
export function relayDaemonToEditor(s: BridgeState): void {
  s.daemon.onEvent((e: SessionEvent) => {
    const ws = s.workspaces.get(e.sessionId);
    if (!ws) return;
    const ev = e.event;
    if (ev.type === 'tool_output') {
      s.send(e.sessionId, [liveOutputUpdate(s.live, ev.callId, ev.text)]);
      return;
    }
    if (ev.type === 'tool_call_update' && (ev.status === 'completed' || ev.status === 'failed'))
      s.live.delete(ev.callId);
    if (ev.type === 'tool_call_update' && ev.status === 'completed' && ev.changed?.length) {
      // The texts are fetched now; the queue keeps the order of updates.
      s.send(
        e.sessionId,
        diffsFor(s, e.sessionId, ev.changed).then((diffs) => toAcpUpdates(e, ws, diffs)),
      );
      return;
    }
    s.send(e.sessionId, toAcpUpdates(e, ws));
  });
  s.daemon.onPermission((p, signal) => askEditor(s, p, signal));
  s.daemon.onBufferRead((p, signal) => readEditorBuffer(s, p, signal));
}

async function diffsFor(s: BridgeState, sessionId: string, changed: string[]): Promise<FileDiffText[]> {
  const out: FileDiffText[] = [];
  for (const p of changed) {
    const f = await s.daemon.request(ShadowFile, { sessionId, path: p }).catch(() => null);
    if (f && !f.binary && f.shadow !== null) out.push({ path: p, oldText: f.real, newText: f.shadow });
  }
  return out;
}

/**
 * The daemon's question, asked in the editor. The daemon withdraws a question when another client answered
 * or the turn was cancelled. An editor that fails the question (an error, not an answer) denies: the safe
 * default, and the turn does not wait for the daemon's permission timeout.
 */
async function askEditor(s: BridgeState, p: ParamsOf<typeof PermissionRequest>, signal: AbortSignal) {
  if (!s.conn) return { outcome: 'deny' as const };
  const ws = s.workspaces.get(p.sessionId);
  const question: RequestPermissionRequest = {
    sessionId: p.sessionId,
    toolCall: {
      toolCallId: p.callId,
      title: p.summary,
      kind: p.kind,
      status: 'pending',
      rawInput: p.input,
      ...(ws ? { locations: locationsOf(ws, p.input) } : {}),
      _meta: { shadowbox: { rule: p.rule, tool: p.tool, requestId: p.requestId } },
    },
    options: permissionOptions(p.options),
  };
  const res = await s.conn.client
    .request('session/request_permission', question, { cancellationSignal: signal, stopWaitingOnCancel: true })
    .catch((e: unknown) => {
      if (!signal.aborted)
        s.log(`permission question for ${p.callId} failed in the editor, denying: ${(e as Error).message}`);
      return { outcome: { outcome: 'cancelled' as const } };
    });
  const answer = permissionAnswer(res.outcome, p.options);
  if (answer.persistDeny && ws) {
    await s.daemon
      .request(PolicySetRules, { workspace: ws, add: [{ action: 'deny', tool: p.tool }] })
      .catch((e: unknown) => s.log(`could not persist reject_always: ${(e as Error).message}`));
  }
  // The call runs now: the daemon said running before it asked, and pending while it asked.
  if (answer.outcome !== 'deny')
    s.send(p.sessionId, [{ sessionUpdate: 'tool_call_update', toolCallId: p.callId, status: 'in_progress' }]);
  return { outcome: answer.outcome };
}

/**
 * read_file asks for the editor's buffer (unsaved changes included) through ACP fs/read_text_file; null when
 * the editor does not offer it or fails (the daemon then reads the saved file; it also gives up after 300 ms).
 */
async function readEditorBuffer(s: BridgeState, p: { sessionId: string; path: string }, signal: AbortSignal) {
  const root = s.cwds.get(p.sessionId) ?? s.workspaces.get(p.sessionId);
  if (!s.conn || !s.editorReadsFiles || !root) return null;
  const res = await s.conn.client
    .request(
      'fs/read_text_file',
      { sessionId: p.sessionId, path: path.join(root, p.path) },
      { cancellationSignal: signal, stopWaitingOnCancel: true },
    )
    .catch((e: unknown) => {
      if (!signal.aborted) s.log(`fs/read_text_file ${p.path} failed in the editor: ${(e as Error).message}`);
      return null;
    });
  return res ? { text: res.content } : null;
}
