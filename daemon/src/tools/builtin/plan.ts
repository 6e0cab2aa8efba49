import { PlanItem, lazySchema } from '@shadowbox/protocol';
import { z } from 'zod';
import { defineTool } from '../define.js';

/** Input of plan: the whole checklist each time (a call replaces the plan). */
export const PlanInput = lazySchema(() =>
  z
    .object({
      items: z.array(PlanItem()).max(50).describe('The whole plan, in order; every call replaces the previous one.'),
    })
    .strict(),
);

const DESCRIPTION = `Keep a visible checklist of the steps of a larger task. Send the whole list every time with each item's status (pending, in_progress, done); the person sees it update live. Use it for work with three or more steps: write the plan first, mark one item in_progress while you work on it, mark it done when it is finished. Not needed for small questions.`;

/** `plan`: the agent's checklist, as a session event (ACP `plan`); changes nothing else. */
export function createPlanTool() {
  return defineTool({
    name: 'plan',
    kind: 'think',
    description: DESCRIPTION,
    input: PlanInput,
    summarize: (i) => {
      const done = i.items.filter((x) => x.status === 'done').length;
      const now = i.items.find((x) => x.status === 'in_progress');
      return `${done}/${i.items.length} done${now ? ` · now: ${now.content}` : ''}`;
    },
    handler: async (i, ctx) => {
      ctx.plan?.(i.items);
      const done = i.items.filter((x) => x.status === 'done').length;
      const open = i.items
        .filter((x) => x.status !== 'done')
        .map((x) => `- [${x.status === 'in_progress' ? '~' : ' '}] ${x.content}`);
      return {
        content: `Plan updated: ${done} of ${i.items.length} done.${open.length ? `\nOpen:\n${open.join('\n')}` : ''}`,
        data: { items: i.items.length, done },
      };
    },
  });
}
