import {
  changeBlocks,
  ShadowAccept,
  ShadowDiff,
  ShadowPending,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  type ResultOf,
} from '@shadowbox/protocol';
import type { RpcClient } from '../rpc/rpc-client.js';
import { renderHunk, saveLayout, savedLayout, type DiffLayout } from './diff-view.js';
import { h, replaceChildren } from './dom.js';

type Others = ResultOf<typeof ShadowPending>['sessions'];

type Diff = ResultOf<typeof ShadowDiff>;
type Status = ResultOf<typeof ShadowStatus>;
type Conflicts = ResultOf<typeof ShadowAccept>['conflicts'];

export interface ReviewHooks {
  client: () => RpcClient | null;
  sessionId: () => string | null;
  /** The open session's workspace (for the other sessions' pending changes). */
  workspace: () => string | null;
  /** Opens another session (a click on "other sessions with pending changes"). */
  open: (sessionId: string) => void;
  /** Called after each reload with the number of files pending (the narrow layout's Review tab shows it). */
  loaded?: (files: number) => void;
  toast: (text: string, level?: 'info' | 'error') => void;
  describeError: (e: unknown) => string;
}

/**
 * The review pane: pending shadow changes per file with their hunks; accept or reject a file or a
 * single hunk, accept/reject everything, undo the last accept. Conflicts from a 3-way merge are
 * shown with their conflict text and a "force" button. Reloads after every action and whenever the
 * session reports new changes.
 */
export class ReviewPanel {
  private diff: Diff | null = null;
  private status: Status | null = null;
  private conflicts: Conflicts = [];
  private error: string | null = null;
  private loading: Promise<void> | null = null;
  private again = false;
  private layout: DiffLayout = savedLayout();
  /** Hunks shown split into their runs of changes (each accepted or rejected alone). */
  private readonly split = new Set<string>();
  /** Other sessions of the workspace that have pending changes (so they never seem to vanish). */
  private others: Others = [];

  constructor(
    readonly root: HTMLElement,
    private readonly hooks: ReviewHooks,
  ) {}

  clear(): void {
    this.diff = null;
    this.status = null;
    this.conflicts = [];
    this.error = null;
    this.render();
  }

  /** Reloads status and diff (coalesces overlapping calls). */
  refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again);
    })().finally(() => (this.loading = null));
    return this.loading;
  }

  private async load(): Promise<void> {
    const client = this.hooks.client();
    const sessionId = this.hooks.sessionId();
    if (!client || !sessionId) return;
    try {
      const workspace = this.hooks.workspace();
      const [status, diff, pending] = await Promise.all([
        client.request(ShadowStatus, { sessionId }),
        client.request(ShadowDiff, { sessionId }),
        workspace ? client.request(ShadowPending, { workspace }).catch(() => null) : null,
      ]);
      if (this.hooks.sessionId() !== sessionId) return;
      this.status = status;
      this.diff = diff;
      this.others = pending?.sessions.filter((s) => s.sessionId !== sessionId && s.files > 0) ?? [];
      this.error = null;
      this.hooks.loaded?.(diff.files.length);
    } catch (e) {
      this.error = this.hooks.describeError(e);
    }
    this.render();
  }

  private async act(
    label: string,
    run: (client: RpcClient, sessionId: string) => Promise<string | void>,
  ): Promise<void> {
    const client = this.hooks.client();
    const sessionId = this.hooks.sessionId();
    if (!client || !sessionId) return;
    try {
      const msg = await run(client, sessionId);
      if (msg) this.hooks.toast(msg);
    } catch (e) {
      this.hooks.toast(`${label}: ${this.hooks.describeError(e)}`, 'error');
    }
    await this.refresh();
  }

  private accept(sel: { paths?: string[]; hunks?: string[] }, force = false): Promise<void> {
    return this.act('accept', async (c, sessionId) => {
      const r = await c.request(ShadowAccept, { sessionId, paths: sel.paths ?? [], hunks: sel.hunks ?? [], force });
      this.conflicts = r.conflicts;
      const written = r.applied.map((a) => `${a.path} (${a.action})`).join(', ');
      return r.conflicts.length
        ? `accepted ${written || 'nothing'}; ${r.conflicts.length} conflict${r.conflicts.length === 1 ? '' : 's'}`
        : `accepted ${written || 'nothing'}`;
    });
  }

  private reject(sel: { paths?: string[]; hunks?: string[] }): Promise<void> {
    return this.act('reject', async (c, sessionId) => {
      const r = await c.request(ShadowReject, { sessionId, paths: sel.paths ?? [], hunks: sel.hunks ?? [] });
      return `rejected ${r.rejected.join(', ') || 'nothing'}`;
    });
  }

  private undo(): Promise<void> {
    return this.act('undo', async (c, sessionId) => {
      const r = await c.request(ShadowUndo, { sessionId });
      this.conflicts = [];
      return `undid accept ${r.acceptId.slice(0, 8)}: restored ${r.restored.join(', ') || 'nothing'}`;
    });
  }

  render(): void {
    if (!this.hooks.sessionId())
      return replaceChildren(this.root, h('p', { className: 'empty' }, 'Open a session to review its changes.'));
    if (this.error)
      return replaceChildren(
        this.root,
        h('p', { className: 'error', 'data-testid': 'review-error' }, `Review unavailable: ${this.error}`),
        h('button', { onclick: () => void this.refresh() }, 'Retry'),
      );
    if (!this.diff) return replaceChildren(this.root, h('p', { className: 'empty' }, 'Loading changes…'));
    const files = this.diff.files;
    const staleByPath = new Map(this.status?.files.map((f) => [f.path, f.stale]) ?? []);
    const undoable = this.status?.undoable ?? 0;
    const setLayout = (l: DiffLayout) => {
      this.layout = l;
      saveLayout(l);
      this.render();
    };
    const layoutToggle = h(
      'div',
      { className: 'segmented', role: 'group', 'aria-label': 'diff layout' },
      h(
        'button',
        {
          className: this.layout === 'unified' ? 'active' : '',
          'aria-pressed': String(this.layout === 'unified'),
          'data-testid': 'layout-unified',
          onclick: () => setLayout('unified'),
        },
        'Unified',
      ),
      h(
        'button',
        {
          className: this.layout === 'split' ? 'active' : '',
          'aria-pressed': String(this.layout === 'split'),
          'data-testid': 'layout-split',
          onclick: () => setLayout('split'),
        },
        'Side by side',
      ),
    );
    const others = this.others.length
      ? h(
          'div',
          { className: 'others', 'data-testid': 'other-sessions' },
          `${this.others.length === 1 ? 'Another session' : `${this.others.length} other sessions`} of this workspace ${this.others.length === 1 ? 'has' : 'have'} pending changes: `,
          ...this.others.map((s) =>
            h(
              'button',
              { className: 'small', onclick: () => this.hooks.open(s.sessionId) },
              `${s.title || s.sessionId.slice(0, 8)} (${s.files} file${s.files === 1 ? '' : 's'})`,
            ),
          ),
        )
      : null;
    const bar = h(
      'div',
      { className: 'review-bar' },
      h(
        'span',
        { 'data-testid': 'review-count' },
        files.length ? `${files.length} file${files.length === 1 ? '' : 's'} changed` : 'No pending changes',
      ),
      h(
        'button',
        {
          className: 'primary',
          disabled: !files.length,
          'data-testid': 'accept-all',
          onclick: () => void this.accept({}),
        },
        'Accept all',
      ),
      h(
        'button',
        {
          className: 'danger',
          disabled: !files.length,
          'data-testid': 'reject-all',
          onclick: () => void this.reject({}),
        },
        'Reject all',
      ),
      h(
        'button',
        {
          disabled: undoable === 0,
          'data-testid': 'undo',
          title: 'Restore the files as they were before the last accept',
          onclick: () => void this.undo(),
        },
        `Undo accept${undoable ? ` (${undoable})` : ''}`,
      ),
      layoutToggle,
    );
    const conflicts = this.conflicts.length
      ? h(
          'div',
          { className: 'conflicts', 'data-testid': 'conflicts' },
          h('h3', {}, 'Conflicts — you changed these files since the agent read them'),
          ...this.conflicts.map((c) =>
            h(
              'div',
              { className: 'conflict' },
              h('div', { className: 'path' }, c.path),
              h('pre', {}, c.conflictText),
              h(
                'button',
                { className: 'danger', onclick: () => void this.accept({ paths: [c.path] }, true) },
                'Overwrite with the agent version',
              ),
            ),
          ),
        )
      : null;
    replaceChildren(
      this.root,
      bar,
      others,
      conflicts,
      ...files.map((f) =>
        h(
          'section',
          { className: 'file', 'data-testid': 'review-file', 'data-path': f.path },
          h(
            'header',
            {},
            h('span', { className: `change change-${f.change}` }, f.change),
            h('span', { className: 'path' }, f.oldPath ? `${f.oldPath} → ${f.path}` : f.path),
            f.stale || staleByPath.get(f.path)
              ? h(
                  'span',
                  { className: 'stale', title: 'You changed this file since the agent read it; accepting merges' },
                  'stale',
                )
              : null,
            h('span', { className: 'spacer' }),
            h(
              'span',
              { className: 'hunk-actions' },
              h(
                'button',
                {
                  className: 'primary',
                  'data-testid': 'accept-file',
                  onclick: () => void this.accept({ paths: [f.path] }),
                },
                'Accept file',
              ),
              h(
                'button',
                {
                  className: 'danger',
                  'data-testid': 'reject-file',
                  onclick: () => void this.reject({ paths: [f.path] }),
                },
                'Reject file',
              ),
            ),
          ),
          f.binary ? h('p', { className: 'empty' }, 'binary file') : null,
          ...f.hunks.map((hunk) => {
            const runs = changeBlocks(hunk.lines).length;
            const isSplit = this.split.has(hunk.id);
            return h(
              'div',
              { className: 'hunk', 'data-testid': 'hunk', 'data-hunk': hunk.id },
              h(
                'div',
                { className: 'hunk-head' },
                h('code', {}, hunk.header),
                runs > 1 ? h('span', { className: 'runs' }, `${runs} changes`) : null,
                h('span', { className: 'spacer' }),
                // The buttons wrap together, never one alone under the header.
                h(
                  'span',
                  { className: 'hunk-actions' },
                  runs > 1
                    ? h(
                        'button',
                        {
                          className: 'small',
                          'data-testid': 'split-hunk',
                          'aria-pressed': String(isSplit),
                          title: 'Accept or reject each run of changes of this hunk on its own',
                          onclick: () => {
                            if (isSplit) this.split.delete(hunk.id);
                            else this.split.add(hunk.id);
                            this.render();
                          },
                        },
                        isSplit ? 'Join' : 'Split',
                      )
                    : null,
                  h(
                    'button',
                    {
                      className: 'primary small',
                      'data-testid': 'accept-hunk',
                      onclick: () => void this.accept({ hunks: [hunk.id] }),
                    },
                    'Accept',
                  ),
                  h(
                    'button',
                    {
                      className: 'danger small',
                      'data-testid': 'reject-hunk',
                      onclick: () => void this.reject({ hunks: [hunk.id] }),
                    },
                    'Reject',
                  ),
                ),
              ),
              h(
                'div',
                { className: 'diff-scroll' },
                renderHunk(
                  hunk,
                  f.path,
                  this.layout,
                  isSplit
                    ? {
                        accept: (sel) => void this.accept({ hunks: [sel] }),
                        reject: (sel) => void this.reject({ hunks: [sel] }),
                      }
                    : undefined,
                ),
              ),
            );
          }),
        ),
      ),
    );
  }
}
