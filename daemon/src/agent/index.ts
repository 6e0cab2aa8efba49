// The agent loop: model turn → tool calls → tool results → next model turn, as session events.
export { runTurn, type RunTurnOptions, type TurnResult } from './loop.js';
export { fitContext, estimateTokens, ELIDED_PREFIX } from './context.js';
export { compactConversation, COMPACT_SYSTEM, filesTouched, type CompactOptions } from './compact.js';
export {
  collectInstructions,
  instructionDirs,
  INIT_PROMPT,
  MAX_INSTRUCTION_CHARS,
  type InstructionReader,
  type Instructions,
} from './instructions.js';
export { addUsage, costOf, usageOf } from './usage.js';
export {
  Conversation,
  historyFromEvents,
  CUT_OFF_RESULT,
  INTERRUPTED_RESULT,
  SUMMARY_PREFIX,
  type ReplayState,
} from './conversation.js';
export { runDirectCall, directTurnId, isDirectTurn, type DirectCallOptions } from './direct-call.js';
export type * from './types.js';
export { systemPrompt } from './system-prompt.js';
