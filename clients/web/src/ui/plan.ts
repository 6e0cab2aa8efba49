import type { PlanItem } from '@shadowbox/protocol';
import { h, replaceChildren } from './dom.js';

const MARK: Record<PlanItem['status'], string> = { done: '✓', in_progress: '▸', pending: '○' };

/** The agent's plan as a live checklist above the composer; hidden while there is none. */
export class PlanPanel {
  private rev = -1;

  constructor(private readonly root: HTMLElement) {}

  /** Redraws when the plan changed (`rev` is the view's planRev). */
  update(plan: PlanItem[] | null, rev: number): void {
    if (rev === this.rev) return;
    this.rev = rev;
    this.root.hidden = !plan || plan.length === 0;
    if (!plan) return replaceChildren(this.root);
    const done = plan.filter((i) => i.status === 'done').length;
    replaceChildren(
      this.root,
      h('div', { className: 'plan-title' }, `Plan · ${done}/${plan.length} done`),
      h(
        'ul',
        { className: 'plan-items' },
        ...plan.map((i) =>
          h(
            'li',
            { className: `plan-item plan-${i.status}`, 'data-status': i.status, 'data-testid': 'plan-item' },
            h('span', { className: 'plan-mark', 'aria-hidden': 'true' }, MARK[i.status]),
            h('span', {}, i.content),
          ),
        ),
      ),
    );
  }

  reset(): void {
    this.rev = -1;
    this.root.hidden = true;
    replaceChildren(this.root);
  }
}

/** A turn's footer text: duration and tokens ("2.1 s · 3,500 tokens in (2,500 cached) / 50 out · $0.0075"). */
export function footerText(f: {
  durationMs: number | null;
  stopReason: string;
  usage?: { inputTokens: number; outputTokens: number; cachedInputTokens: number; costUsd?: number };
}): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const parts: string[] = [f.stopReason === 'end_turn' ? 'done' : f.stopReason.replace('_', ' ')];
  if (f.durationMs !== null)
    parts.push(f.durationMs < 1000 ? `${Math.round(f.durationMs)} ms` : `${(f.durationMs / 1000).toFixed(1)} s`);
  const u = f.usage;
  if (u) {
    parts.push(
      `${n(u.inputTokens)} tokens in${u.cachedInputTokens ? ` (${n(u.cachedInputTokens)} cached)` : ''} / ${n(u.outputTokens)} out`,
    );
    if (u.costUsd !== undefined) parts.push(`$${u.costUsd < 0.01 ? u.costUsd.toFixed(4) : u.costUsd.toFixed(2)}`);
  }
  return parts.join(' · ');
}
