import { AuditQuery, AuditVerify, type ResultOf } from '@shadowbox/protocol';
import type { RpcClient } from '../rpc/rpc-client.js';
import { h, replaceChildren } from './dom.js';

type Entry = ResultOf<typeof AuditQuery>['entries'][number];

export interface AuditHooks {
  client: () => RpcClient | null;
  target: () => { workspace: string; sessionId: string } | null;
  describeError: (e: unknown) => string;
}

function summarize(data: Record<string, unknown>): string {
  const keys = ['tool', 'decision', 'outcome', 'paths', 'path', 'reason', 'code', 'text'];
  const parts: string[] = [];
  for (const k of keys)
    if (data[k] !== undefined) parts.push(`${k}=${typeof data[k] === 'string' ? data[k] : JSON.stringify(data[k])}`);
  const s = parts.join(' ') || JSON.stringify(data);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
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
        h('span', {}, `${this.entries.length} entries`),
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
      h(
        'table',
        { className: 'audit', 'data-testid': 'audit-table' },
        h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'time'), h('th', {}, 'type'), h('th', {}, 'details'))),
        h(
          'tbody',
          {},
          ...this.entries.map((e) =>
            h(
              'tr',
              {},
              h('td', {}, String(e.seq)),
              h('td', {}, new Date(e.time).toLocaleTimeString()),
              h('td', {}, e.type),
              h('td', { title: JSON.stringify(e.data) }, summarize(e.data)),
            ),
          ),
        ),
      ),
    );
  }
}
