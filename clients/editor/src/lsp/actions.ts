import { ShadowAccept, ShadowFile, ShadowReject, ShadowUndo, ErrorCodes } from '@shadowbox/protocol';
import type { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult, TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { z } from 'zod';
import type { ShadowboxClient } from '../client.js';
import { refusal } from './errors.js';
import { hunkEdit, toLines } from './hunks.js';
import { viewFile, type FileDiffT } from './present.js';
import type { ReviewState } from './review-state.js';

/** The arguments every review command carries (validated: they come back from the editor). */
export const ReviewTargetArgs = z.tuple([
  z.object({ uri: z.string().min(1).max(4096), hunks: z.array(z.string().min(1).max(1024)).max(10_000).optional() }),
]);

/** What the commands act through. */
export interface ActionDeps {
  state: ReviewState;
  /** The connected daemon and the followed session, or a refusal. */
  target(): { daemon: ShadowboxClient; sessionId: string };
  document(uri: string): TextDocument | undefined;
  /** What the editor said it can do with workspace/applyEdit. */
  edits: { applyEdit: boolean; documentChanges: boolean };
  applyEdit(params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult>;
  /** Tells the person something went only partly well (window/showMessage, warning). */
  warn(message: string): void;
  /** Re-reads the pending changes and republishes (after the daemon acted; not awaited, the answer does not wait for it). */
  refresh(): Promise<void>;
}

/** How a command ended: in the buffer (the person saves), or written / dropped by the daemon. */
export type ActionResult =
  | { via: 'buffer'; hunks: string[] }
  | {
      via: 'daemon';
      applied: Array<{ path: string; action: string }>;
      conflicts: Array<{ path: string; hunks: string[] }>;
    }
  | { via: 'daemon'; rejected: string[] }
  | { via: 'daemon'; restored: string[] };

/** The review commands behind the code actions and lenses. */
export interface ReviewActions {
  accept(uri: string, hunks?: string[]): Promise<ActionResult>;
  reject(uri: string, hunks?: string[]): Promise<ActionResult>;
  undo(): Promise<ActionResult>;
  /** After the editor saved `uri`: records the hunks accepted into its buffer with the daemon. */
  settle(uri: string): Promise<void>;
}

/**
 * Why: an accept must never cost the person an unsaved edit. A file the editor has open is the editor's:
 * the agent's hunk is applied to the buffer with workspace/applyEdit, only on the changed lines, and the
 * person saves; the save is then recorded with the daemon (shadow/accept, which merges the saved file with
 * the agent's hunk — the same change on both sides — so the audit log and the undo stack have it). A file
 * that is not open, and changes that are not line hunks (added, deleted, moved, binary files), are written
 * by the daemon — and only when no buffer holds unsaved edits of that file.
 */
export function createReviewActions(d: ActionDeps): ReviewActions {
  function pendingFile(uri: string, hunks?: string[]): { rel: string; diff: FileDiffT } {
    const f = d.state.fileAt(uri);
    if (!f) throw refusal(ErrorCodes.HunkNotFound, 'not_pending', `no pending agent change in ${uri}`, { uri });
    const unknown = (hunks ?? []).filter((id) => !f.diff.hunks.some((h) => h.id === id));
    if (unknown.length > 0)
      throw refusal(
        ErrorCodes.HunkNotFound,
        'unknown_hunk',
        `${unknown.join(', ')}: not pending any more (the review changed; look again)`,
        {
          hunks: unknown,
        },
      );
    return f;
  }

  async function intoBuffer(doc: TextDocument, f: { diff: FileDiffT }, hunks?: string[]): Promise<ActionResult> {
    const text = toLines(doc.getText());
    const v = viewFile(f.diff, text);
    const chosen = v.hunks.filter((h) => !hunks || hunks.includes(h.hunk.id));
    const lost = chosen.filter((h) => !h.place);
    if (lost.length > 0)
      throw refusal(
        ErrorCodes.HunkNotFound,
        'hunk_does_not_apply',
        `the lines this change replaces were edited in your buffer; change them by hand or reject it (${lost.map((h) => h.hunk.id).join(', ')})`,
        { hunks: lost.map((h) => h.hunk.id) },
      );
    const edits: TextEdit[] = chosen
      .filter((h) => h.place!.state === 'pending')
      .map((h) => hunkEdit(text, h.blocks, h.place!));
    edits.sort((a, b) => a.range.start.line - b.range.start.line);
    for (let i = 1; i < edits.length; i++)
      if (edits[i].range.start.line < edits[i - 1].range.end.line)
        throw refusal(
          ErrorCodes.HunkNotFound,
          'hunk_does_not_apply',
          'two of these changes overlap in your buffer; accept them one at a time',
        );
    const ids = chosen.map((h) => h.hunk.id);
    // Marked before the edit goes out: the editor's didChange for it arrives before applyEdit answers.
    const marked = d.state.inBuffer(doc.uri);
    const fresh = ids.filter((id) => !marked.has(id));
    for (const id of fresh) marked.add(id);
    const unmark = () => fresh.forEach((id) => marked.delete(id));
    if (edits.length > 0) {
      const r = await d
        .applyEdit({
          label: 'shadowbox: accept agent change',
          edit: d.edits.documentChanges
            ? { documentChanges: [{ textDocument: { uri: doc.uri, version: doc.version }, edits }] }
            : { changes: { [doc.uri]: edits } },
        })
        .catch((e: unknown) => (unmark(), Promise.reject(e)));
      if (!r.applied) {
        unmark();
        throw refusal(
          ErrorCodes.ShadowFailed,
          'edit_refused',
          `the editor did not apply the change${r.failureReason ? `: ${r.failureReason}` : ''}`,
        );
      }
    }
    d.state.republish(doc.uri);
    return { via: 'buffer', hunks: ids };
  }

  /** The daemon writes a file only when no buffer holds unsaved edits of it. */
  async function ensureClean(uri: string, rel: string): Promise<void> {
    const doc = d.document(uri);
    if (!doc) return;
    const { daemon, sessionId } = d.target();
    const saved = await daemon.request(ShadowFile, { sessionId, path: rel });
    if (saved.binary || (saved.real ?? '') === doc.getText()) return;
    throw refusal(
      ErrorCodes.ReviewStale,
      'unsaved_buffer',
      `${rel} has unsaved changes in the editor: save or revert them first`,
      {
        path: rel,
      },
    );
  }

  return {
    async accept(uri, hunks) {
      const f = pendingFile(uri, hunks);
      const doc = d.document(uri);
      if (doc && d.edits.applyEdit && f.diff.change === 'modified' && !f.diff.binary && f.diff.hunks.length > 0)
        return intoBuffer(doc, f, hunks);
      await ensureClean(uri, f.rel);
      const { daemon, sessionId } = d.target();
      const r = await daemon.request(ShadowAccept, {
        sessionId,
        ...(hunks?.length ? { hunks } : { paths: [f.diff.path] }),
      });
      if (r.conflicts.length > 0)
        d.warn(
          `shadowbox: ${r.conflicts.map((c) => c.path).join(', ')} changed since the agent read it and the change conflicts; nothing was written there (merge by hand, or \`shadowbox accept --force\`)`,
        );
      else if (r.applied.length > 0) d.state.drop(uri, hunks?.length ? hunks : undefined);
      void d.refresh();
      return {
        via: 'daemon',
        applied: r.applied,
        conflicts: r.conflicts.map((c) => ({ path: c.path, hunks: c.hunks })),
      };
    },
    async reject(uri, hunks) {
      const f = pendingFile(uri, hunks);
      const { daemon, sessionId } = d.target();
      const r = await daemon.request(ShadowReject, {
        sessionId,
        ...(hunks?.length ? { hunks } : { paths: [f.diff.path] }),
      });
      for (const id of hunks ?? f.diff.hunks.map((h) => h.id)) d.state.inBuffer(uri).delete(id);
      d.state.drop(uri, hunks?.length ? hunks : undefined);
      void d.refresh();
      return { via: 'daemon', rejected: r.rejected };
    },
    async undo() {
      const { daemon, sessionId } = d.target();
      const r = await daemon.request(ShadowUndo, { sessionId });
      await d.refresh();
      return { via: 'daemon', restored: r.restored };
    },
    async settle(uri) {
      const set = d.state.inBuffer(uri);
      const f = d.state.fileAt(uri);
      const doc = d.document(uri);
      if (set.size === 0 || !f || !doc) return;
      // Only what the saved text really holds: a change the person undid in the buffer is pending again.
      const v = viewFile(f.diff, toLines(doc.getText()));
      const ids = v.hunks.filter((h) => set.has(h.hunk.id) && h.place?.state === 'applied').map((h) => h.hunk.id);
      set.clear();
      if (ids.length > 0) {
        const { daemon, sessionId } = d.target();
        const r = await daemon.request(ShadowAccept, { sessionId, hunks: ids });
        if (r.conflicts.length > 0)
          d.warn(
            `shadowbox: your saved ${f.rel} holds the agent's change, but recording it conflicted with your other edits; it stays listed: reject it to clear it`,
          );
      }
      await d.refresh();
    },
  };
}
