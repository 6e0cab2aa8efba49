import { ShadowDiff, ShadowFile } from '@shadowbox/protocol';
import type { Diagnostic } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { ShadowboxClient } from '../client.js';
import { toLines, type TextLines } from './hunks.js';
import { diagnosticsOf, viewFile, type FileDiffT, type FileView } from './present.js';
import type { WorkspaceUris } from './workspace-uris.js';

/** What the review state reads: the daemon, the editor's open buffers, the URI mapping, and where diagnostics go. */
export interface ReviewStateDeps {
  uris: WorkspaceUris;
  document(uri: string): TextDocument | undefined;
  publish(uri: string, diagnostics: Diagnostic[]): void;
  log(message: string): void;
}

/** The pending changes of the followed session, placed in the texts the editor shows. */
export interface ReviewState {
  /** The file shown at a URI (a moved file is shown at its old path), with its workspace-relative path. */
  fileAt(uri: string): { rel: string; diff: FileDiffT } | null;
  /** Where the hunks of the file at `uri` sit in the editor's buffer (or the saved file when it is not open). */
  view(uri: string): FileView | null;
  /** Every file with pending changes. */
  files(): FileDiffT[];
  /** Hunk ids accepted into the buffer at `uri` and not saved yet. */
  inBuffer(uri: string): Set<string>;
  /** Re-reads the diff of a session from the daemon (null: nothing followed) and publishes every file. */
  reload(daemon: ShadowboxClient | null, sessionId: string | null): Promise<void>;
  /** Re-publishes one URI (its buffer changed, opened, closed). */
  republish(uri: string): void;
  /** Takes hunks (none given: the whole file) out of the review at once, when the daemon confirmed them; the next reload is the truth. */
  drop(uri: string, hunks?: string[]): void;
  /** Clears every published diagnostic (the daemon went away). */
  clear(): void;
}

/**
 * Why: diagnostics must follow the text the person sees. A file that is open is placed in its buffer
 * (unsaved edits move a hunk's lines, so the hunk is found again by content); a file that is not open is
 * placed in the saved file — rebuilt from the hunks when the agent's base is still the real file, read
 * through the daemon (shadow/file) when the person changed it since (stale).
 */
export function createReviewState(d: ReviewStateDeps): ReviewState {
  let byShown = new Map<string, { rel: string; diff: FileDiffT }>();
  let savedTexts = new Map<string, TextLines>();
  const accepted = new Map<string, Set<string>>();
  const published = new Set<string>();

  const shownPath = (f: FileDiffT) => (f.change === 'renamed' && f.oldPath ? f.oldPath : f.path);

  function view(uri: string): FileView | null {
    const f = byShown.get(uri);
    if (!f) return null;
    const doc = d.document(uri);
    return viewFile(f.diff, doc ? toLines(doc.getText()) : (savedTexts.get(uri) ?? null));
  }

  function republish(uri: string): void {
    const v = view(uri);
    if (!v) {
      if (published.delete(uri)) d.publish(uri, []);
      return;
    }
    published.add(uri);
    d.publish(uri, diagnosticsOf(v, accepted.get(uri)));
  }

  return {
    fileAt: (uri) => byShown.get(uri) ?? null,
    view,
    files: () => [...byShown.values()].map((f) => f.diff),
    inBuffer(uri) {
      let s = accepted.get(uri);
      if (!s) accepted.set(uri, (s = new Set()));
      return s;
    },
    async reload(daemon, sessionId) {
      const files = daemon && sessionId ? (await daemon.request(ShadowDiff, { sessionId })).files : [];
      const next = new Map<string, { rel: string; diff: FileDiffT }>();
      for (const f of files) {
        const uri = d.uris.uriOf(shownPath(f));
        if (!uri) {
          if (!f.path.endsWith('/')) d.log(`not shown: ${JSON.stringify(f.path)} is not a plain workspace path`);
          continue;
        }
        next.set(uri, { rel: shownPath(f), diff: f });
      }
      // The saved text of stale files that are not open (the hunks alone no longer say where they are).
      const saved = new Map<string, TextLines>();
      for (const [uri, f] of next) {
        if (!f.diff.stale || f.diff.change !== 'modified' || f.diff.binary || d.document(uri) || !daemon) continue;
        const real = await daemon.request(ShadowFile, { sessionId: sessionId!, path: f.rel }).catch(() => null);
        if (real?.real != null) saved.set(uri, toLines(real.real));
      }
      byShown = next;
      savedTexts = saved;
      for (const uri of accepted.keys()) if (!next.has(uri)) accepted.delete(uri);
      for (const uri of new Set([...published, ...next.keys()])) republish(uri);
    },
    republish,
    drop(uri, hunks) {
      const f = byShown.get(uri);
      if (!f) return;
      const left = hunks ? f.diff.hunks.filter((h) => !hunks.includes(h.id)) : [];
      if (left.length === 0) byShown.delete(uri);
      else byShown.set(uri, { ...f, diff: { ...f.diff, hunks: left } });
      republish(uri);
    },
    clear() {
      byShown = new Map();
      accepted.clear();
      for (const uri of published) d.publish(uri, []);
      published.clear();
    },
  };
}
