import { AuditQuery, AuditVerify, summarizeAuditEntry, type ResultOf } from '@shadowbox/protocol';
import type { RpcClient } from '../rpc/rpc-client.js';
import { h, replaceChildren } from './dom.js';

type Entry = ResultOf<typeof AuditQuery>['entries'][number];

export interface AuditHooks {
  client: () => RpcClient | null;
  target: () => { workspace: string; sessionId: string } | null;
  describeError: (e: unknown) => string;
}

const OUTCOME_ICON: Record<string, string> = { ok: '✓', error: '✗', denied: '⊘' };

/** One audit entry as a readable row: time, what happened to what (the protocol's summary), details on demand. */
function row(e: Entry): HTMLElement {
  const s = summarizeAuditEntry(e);
  const t = new Date(e.time);
  return h(
    'li',
    { className: `audit-row outcome-${s.outcome ?? 'none'}`, 'data-testid': 'audit-row', 'data-type': e.type },
    h('span', { className: 'audit-icon', 'aria-hidden': 'true' }, s.outcome ? (OUTCOME_ICON[s.outcome] ?? '·') : '·'),
    h('time', { dateTime: e.time, title: e.time }, t.toLocaleTimeString()),
    h(
      'div',
      { className: 'audit-main' },
      h('span', { className: 'audit-what' }, s.what),
      s.details.length ? h('span', { className: 'audit-details' }, s.details.join(' · ')) : null,
      h('details', {}, h('summary', {}, `#${e.seq} ${e.type}`), h('pre', {}, JSON.stringify(e.data, null, 2))),
    ),
  );
}

/** The audit view: this session's entries of the workspace audit log (newest first) and a chain check. */
export class AuditPanel {
  private entries: Entry[] = [];
  private verify: ResultOf<typeof AuditVerify> | null = null;
  private error: string | null = null;

  constructor(
    readonly root: HTMLElement,
    private readonly hooks: AuditHooks,
  ) {}

  async refresh(): Promise<void> {
    const client = this.hooks.client();
    const t = this.hooks.target();
    if (!client || !t) return this.render();
    try {
      this.entries = (
        await client.request(AuditQuery, { workspace: t.workspace, sessionId: t.sessionId, limit: 500 })
      ).entries.reverse();
      this.error = null;
    } catch (e) {
      this.error = this.hooks.describeError(e);
    }
    this.render();
  }

  private async check(): Promise<void> {
    const client = this.hooks.client();
    const t = this.hooks.target();
    if (!client || !t) return;
    try {
      this.verify = await client.request(AuditVerify, { workspace: t.workspace });
    } catch (e) {
      this.error = this.hooks.describeError(e);
    }
    this.render();
  }

  render(): void {
    if (!this.hooks.target())
      return replaceChildren(this.root, h('p', { className: 'empty' }, 'Open a session to see its audit log.'));
    const v = this.verify;
    replaceChildren(
      this.root,
      h(
        'div',
        { className: 'review-bar' },
        h('span', {}, `${this.entries.length} ${this.entries.length === 1 ? 'entry' : 'entries'}`),
        h('button', { onclick: () => void this.refresh() }, 'Reload'),
        h('button', { 'data-testid': 'audit-verify', onclick: () => void this.check() }, 'Verify chain'),
        v
          ? h(
              'span',
              { className: v.ok ? 'ok' : 'error', 'data-testid': 'audit-verdict' },
              v.ok
                ? `chain intact (${v.entries} entries, ${v.checkpoints} checkpoints)`
                : `broken at line ${v.firstBad?.line}: ${v.firstBad?.reason}`,
            )
          : null,
      ),
      this.error ? h('p', { className: 'error' }, this.error) : null,
      h('ol', { className: 'audit', 'data-testid': 'audit-table' }, ...this.entries.map(row)),
    );
  }
}
