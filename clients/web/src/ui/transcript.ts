import type { Item, SessionView } from '../model/session-view.js';
import { enhanceCodeBlocks } from './code.js';
import type { DiffLayout } from './diff-view.js';
import { h, replaceChildren } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { footerText } from './plan.js';
import { approvalView } from './permission.js';

/** Labels of the four permission answers, the same as the terminal's. */
export const PERMISSION_LABELS: Record<string, string> = {
  allow_once: 'Allow once',
  allow_session: 'Allow for this session',
  allow_project: 'Always allow in this project',
  deny: 'Deny',
};

const STATUS_ICON: Record<string, string> = {
  pending: '○',
  awaiting_permission: '?',
  running: '◐',
  completed: '✓',
  failed: '✗',
};
const MAX_OUTPUT_CHARS = 20_000;

export interface TranscriptHooks {
  selfId: () => string;
  nameOf: (clientId: string) => string;
  answer: (requestId: string, outcome: string) => void;
  /** The text of a file as the agent sees it now (shadow/file), for the diff of a write awaiting approval. */
  fileText: (path: string) => Promise<string | null>;
  layout: () => DiffLayout;
}

function clip(text: string): string {
  return text.length > MAX_OUTPUT_CHARS
    ? `${text.slice(0, MAX_OUTPUT_CHARS)}\n… (${text.length - MAX_OUTPUT_CHARS} more characters)`
    : text;
}

function pretty(v: unknown): string {
  try {
    return typeof v === 'string' ? v : (JSON.stringify(v, null, 2) ?? '');
  } catch {
    return String(v);
  }
}

/** Renders the transcript incrementally: one element per item, redrawn only when its rev changed. */
export class TranscriptRenderer {
  private readonly rendered = new Map<string, { el: HTMLElement; rev: number }>();
  private readonly shown = new WeakSet<HTMLElement>();

  constructor(
    readonly root: HTMLElement,
    private readonly hooks: TranscriptHooks,
  ) {}

  reset(): void {
    this.rendered.clear();
    this.root.replaceChildren();
  }

  update(view: SessionView): void {
    const nearBottom = this.root.scrollHeight - this.root.scrollTop - this.root.clientHeight < 80;
    let prev: HTMLElement | null = null;
    for (const item of view.items) {
      const r = this.rendered.get(item.id);
      if (r && r.rev === item.rev) {
        prev = r.el;
        continue;
      }
      const el = r?.el ?? h('div', { className: `item item-${item.kind}`, 'data-id': item.id });
      this.fill(el, item);
      // New items go right after the previous one (a permission question is inserted under its tool card).
      if (!r) this.root.insertBefore(el, prev ? prev.nextSibling : this.root.firstChild);
      this.rendered.set(item.id, { el, rev: item.rev });
      prev = el;
    }
    if (nearBottom) this.root.scrollTop = this.root.scrollHeight;
    // A question that just opened is brought into view (its answer buttons included).
    const asking = [...this.root.querySelectorAll<HTMLElement>('.item-permission[data-outcome=""]')].at(-1);
    if (asking && !this.shown.has(asking)) {
      this.shown.add(asking);
      asking.scrollIntoView({ block: 'start' });
    }
  }

  private fill(el: HTMLElement, item: Item): void {
    // Turns taken back by a rewind stay visible, marked.
    el.classList.toggle('rewound', 'rewound' in item && item.rewound === true);
    switch (item.kind) {
      case 'user': {
        const who = item.clientId === this.hooks.selfId() ? 'you' : this.hooks.nameOf(item.clientId);
        el.dataset.testid = 'user-message';
        replaceChildren(
          el,
          h('div', { className: 'who' }, who, item.rewound ? h('span', { className: 'badge' }, 'rewound') : null),
          h('div', { className: 'text' }, item.text),
          item.images?.length
            ? h('div', { className: 'images', 'data-testid': 'user-images' }, `+ ${item.images.join(', ')}`)
            : null,
        );
        break;
      }
      case 'footer':
        // The turn's footer: its time and tokens, under the turn it ends.
        el.dataset.testid = 'turn-footer';
        el.dataset.slot = 'turn-footer';
        el.dataset.turn = item.turnId;
        el.dataset.stop = item.stopReason;
        replaceChildren(el, footerText(item));
        break;
      case 'assistant': {
        el.dataset.testid = 'assistant-message';
        el.classList.toggle('streaming', !item.done);
        const body = h('div', { className: 'markdown' });
        // Sanitized by DOMPurify inside renderMarkdown; model output never reaches innerHTML unsanitized.
        body.innerHTML = renderMarkdown(item.text);
        enhanceCodeBlocks(body);
        replaceChildren(
          el,
          item.reasoning
            ? h('details', { className: 'reasoning' }, h('summary', {}, 'reasoning'), h('pre', {}, item.reasoning))
            : null,
          body,
        );
        break;
      }
      case 'tool': {
        el.dataset.testid = 'tool-card';
        el.dataset.status = item.status;
        el.dataset.tool = item.tool;
        if (item.by !== undefined) el.dataset.origin = 'client';
        const meta = [
          item.decision ? `${item.decision.action} by ${item.decision.rule}` : '',
          item.durationMs !== undefined ? `${Math.round(item.durationMs)} ms` : '',
          item.reason ?? '',
        ]
          .filter(Boolean)
          .join(' · ');
        replaceChildren(
          el,
          h(
            'div',
            { className: 'tool-head' },
            h(
              'span',
              { className: `status status-${item.status}`, title: item.status },
              STATUS_ICON[item.status] ?? '·',
            ),
            h('span', { className: 'tool-name' }, item.tool),
            // A client's direct call (`shadowbox exec`, another page): who ran it, not the agent.
            item.by !== undefined
              ? h(
                  'span',
                  { className: 'badge tool-by', 'data-testid': 'tool-by' },
                  `run by ${item.by === this.hooks.selfId() ? 'you' : this.hooks.nameOf(item.by)}`,
                )
              : null,
            h('span', { className: 'tool-summary' }, item.summary),
            h('span', { className: 'tool-state' }, item.status.replace('_', ' ')),
          ),
          // The live panel: the end of what a running command prints, as it prints it.
          item.live !== undefined ? livePanel(item.live) : null,
          h(
            'details',
            { className: 'tool-body' },
            h('summary', {}, 'arguments and output'),
            h('div', { className: 'label' }, 'arguments'),
            h('pre', { className: 'tool-input' }, clip(pretty(item.input))),
            item.output || item.content ? h('div', { className: 'label' }, 'output') : null,
            item.output || item.content
              ? h(
                  'pre',
                  { className: 'tool-output', 'data-testid': 'tool-output' },
                  clip(item.output ?? item.content ?? ''),
                )
              : null,
            item.changed?.length ? h('div', { className: 'label' }, `changed: ${item.changed.join(', ')}`) : null,
          ),
          meta ? h('div', { className: 'tool-meta' }, meta) : null,
        );
        break;
      }
      case 'permission': {
        el.dataset.testid = 'permission';
        el.dataset.outcome = item.outcome ?? '';
        const open = !item.outcome;
        el.setAttribute('role', open ? 'alertdialog' : 'note');
        el.setAttribute('aria-label', `permission for ${item.tool}`);
        const buttons = open
          ? h(
              'div',
              { className: 'perm-actions' },
              ...item.options.map((o) =>
                h(
                  'button',
                  {
                    className: o === 'deny' ? 'danger' : o === 'allow_once' ? 'primary' : '',
                    'data-option': o,
                    onclick: () => this.hooks.answer(item.id, o),
                  },
                  PERMISSION_LABELS[o] ?? o,
                ),
              ),
            )
          : h(
              'div',
              { className: 'perm-outcome' },
              `${item.outcome?.replace('_', ' ')}${item.by ? ` — answered by ${item.by === this.hooks.selfId() ? 'you' : this.hooks.nameOf(item.by)}` : ''}`,
            );
        replaceChildren(
          el,
          h('div', { className: 'perm-title' }, open ? `Allow ${item.tool}?` : `Permission for ${item.tool}`),
          h('div', { className: 'perm-summary' }, item.summary),
          h('div', { className: 'perm-rule' }, `asked by rule ${item.rule}`),
          // The answers first (always in reach), then what is being approved, in the form a person checks
          // it: the diff, the code, the command, the URL.
          buttons,
          open ? approvalView(item.tool, item.toolKind, item.input, this.hooks) : null,
        );
        break;
      }
      case 'notice':
        el.dataset.testid = 'notice';
        el.classList.add(`notice-${item.level}`);
        replaceChildren(el, item.text);
        break;
    }
  }
}

/** A running call's live output, scrolled to its end. */
function livePanel(text: string): HTMLElement {
  const pre = h('pre', { className: 'tool-live', 'data-testid': 'tool-live', 'aria-live': 'polite' }, text);
  requestAnimationFrame(() => (pre.scrollTop = pre.scrollHeight));
  return pre;
}
