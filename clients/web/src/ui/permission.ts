import { structuredPatch } from 'diff';
import type { ResultOf, ShadowDiff } from '@shadowbox/protocol';
import { renderHunk, type DiffLayout } from './diff-view.js';
import { h } from './dom.js';
import { highlightHtml } from './highlight.js';

type Hunk = ResultOf<typeof ShadowDiff>['files'][number]['hunks'][number];

/** What an approval card may ask of the page: the current text of a file (as the agent sees it) and the diff layout. */
export interface ApprovalDeps {
  fileText(path: string): Promise<string | null>;
  layout(): DiffLayout;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A code block, highlighted when its language is known (sanitized spans only), else text. */
export function codeBlock(code: string, lang: string | undefined, testid: string): HTMLElement {
  const pre = h('pre', { className: 'code', 'data-testid': testid });
  const el = h('code', {});
  const html = highlightHtml(code, lang);
  if (html !== null) el.innerHTML = html;
  else el.textContent = code;
  pre.append(el);
  return pre;
}

/** jsdiff's hunks of old → new as the protocol's hunk shape (ids are not needed here). */
export function hunksOf(path: string, oldText: string, newText: string): Hunk[] {
  const p = structuredPatch(path, path, oldText, newText, '', '', { context: 3 });
  return p.hunks.map((x, k) => ({
    id: `${path}#preview-${k}`,
    header: `@@ -${x.oldStart},${x.oldLines} +${x.newStart},${x.newLines} @@`,
    oldStart: x.oldStart,
    oldLines: x.oldLines,
    newStart: x.newStart,
    newLines: x.newLines,
    lines: x.lines,
  }));
}

function labelled(label: string, ...children: Array<Node | string | null>): HTMLElement {
  return h('div', { className: 'approval-field' }, h('div', { className: 'label' }, label), ...children);
}

/**
 * What a permission question is about, in the form a person checks it: the diff an edit or write would
 * make (against the file as the agent sees it now), the code or command that would run, the URL that would
 * be fetched, the path that would be deleted or moved. Anything else shows its arguments; the raw JSON is
 * always one click away.
 */
export function approvalView(tool: string, kind: string, input: unknown, deps: ApprovalDeps): HTMLElement {
  const i = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  const box = h('div', { className: 'approval', 'data-testid': 'approval' });
  const path = str(i.path);
  if (path && str(i.old_string) !== undefined && str(i.new_string) !== undefined) {
    // edit_file: the replaced text, as a diff.
    const oldLines = str(i.old_string)!.replace(/\n$/, '').split('\n');
    const newLines = str(i.new_string)!.replace(/\n$/, '').split('\n');
    const hunk: Hunk = {
      id: `${path}#edit`,
      header: '',
      oldStart: 1,
      oldLines: oldLines.length,
      newStart: 1,
      newLines: newLines.length,
      lines: [...oldLines.map((l) => `-${l}`), ...newLines.map((l) => `+${l}`)],
    };
    box.append(labelled(`edit ${path}`, renderHunk(hunk, path, deps.layout())));
  } else if (path && str(i.content) !== undefined) {
    // write_file: the whole new content against what the file holds now (loaded, then drawn).
    const content = str(i.content)!;
    const slot = h('div', { className: 'approval-diff' }, 'loading the current file…');
    box.append(labelled(`write ${path}`, slot));
    void deps
      .fileText(path)
      .catch(() => null)
      .then((current) => {
        slot.replaceChildren();
        const hunks = hunksOf(path, current ?? '', content);
        if (current === null) slot.append(h('div', { className: 'label' }, 'a new file'));
        if (hunks.length === 0) slot.append(h('div', { className: 'label' }, 'no change to the file'));
        for (const x of hunks) slot.append(renderHunk(x, path, deps.layout()));
      });
  } else if (str(i.code) !== undefined || (kind === 'execute' && (str(i.command) || str(i.file) || str(i.module)))) {
    const lang = tool === 'python' ? 'python' : str(i.command) ? 'bash' : undefined;
    if (str(i.code) !== undefined)
      box.append(labelled('code that would run', codeBlock(str(i.code)!, lang, 'approval-code')));
    if (str(i.command)) box.append(labelled('command', codeBlock(str(i.command)!, 'bash', 'approval-command')));
    if (str(i.file)) box.append(labelled('file', h('code', {}, str(i.file))));
    if (str(i.module)) box.append(labelled('module', h('code', {}, str(i.module))));
    if (Array.isArray(i.args) && i.args.length)
      box.append(labelled('arguments', h('code', {}, i.args.map((a) => JSON.stringify(a)).join(' '))));
  } else if (str(i.url)) {
    box.append(
      labelled(
        `${str(i.method) ?? 'GET'} request to`,
        h('code', { className: 'approval-url', 'data-testid': 'approval-url' }, str(i.url)),
      ),
    );
  } else if (str(i.from) && str(i.to)) {
    box.append(labelled('move', h('code', {}, `${str(i.from)!} → ${str(i.to)!}`)));
  } else if (path && kind === 'delete') {
    box.append(labelled(`delete${i.recursive === true ? ' (with everything in it)' : ''}`, h('code', {}, path)));
  } else {
    box.append(labelled('arguments', codeBlock(JSON.stringify(input, null, 2) ?? '', 'json', 'approval-args')));
    return box;
  }
  box.append(h('details', {}, h('summary', {}, 'raw arguments'), h('pre', {}, JSON.stringify(input, null, 2) ?? '')));
  return box;
}
