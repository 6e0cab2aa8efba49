// Tools: the registry and call pipeline (validate → policy/ask → run → cap → audit) and the built-in file tools.
export { createToolRuntime, type ToolRuntime, type ToolRuntimeDeps } from './runtime.js';
export { createBuiltinTools } from './builtin/index.js';
export type { PolicyPort, PolicyQuery, PolicyDecision, PolicyMode, ToolInfo, ToolSessionContext } from './ports.js';
export {
  defineTool,
  type AnyTool,
  type Tool,
  type ToolKind,
  type ToolContext,
  type ToolOutput,
  type ToolTarget,
  type ToolProgress,
} from './define.js';
export { LiveOutput } from './live-output.js';
export { capContent, DEFAULT_MAX_CONTENT_BYTES } from './cap.js';
export { restrictView, type DeniedPath } from './restricted-view.js';
export { digestInput } from './digest.js';
