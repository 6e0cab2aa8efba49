import type { InstructionFile, PlanItem, SessionEventBody, Usage } from '@shadowbox/protocol';
import { addUsage } from '../agent/index.js';

/** What session/list and session/attach report beside the meta: folded from the session's events. */
export interface SessionSummary {
  usage?: Usage;
  plan?: PlanItem[];
  instructions?: InstructionFile[];
  context?: { tokens: number; window: number };
}

/** Folds one event into a session's summary (usage adds up; plan, instructions and context are the latest). */
export function foldSummary(s: SessionSummary, e: SessionEventBody): void {
  switch (e.type) {
    case 'usage': {
      const { type: _t, turnId: _id, contextWindow, ...u } = e;
      s.usage = addUsage(s.usage, u);
      if (contextWindow) s.context = { tokens: e.inputTokens, window: contextWindow };
      break;
    }
    case 'plan':
      s.plan = e.items;
      break;
    case 'instructions':
      s.instructions = e.files;
      break;
    case 'rewind':
      // The plan of a rewound turn no longer describes the work; the next plan call sets a new one.
      delete s.plan;
      break;
    default:
      break;
  }
}

/** Whether two lists of instruction files name the same files with the same text. */
export function sameInstructions(a: readonly InstructionFile[] | undefined, b: readonly InstructionFile[]): boolean {
  const key = (l: readonly InstructionFile[]) => l.map((f) => `${f.scope}:${f.path}:${f.sha256}`).join('\n');
  return key(a ?? []) === key(b);
}
