import type { PolicyMode } from '@shadowbox/protocol';
/** The system prompt: who the agent is, where it works, what its edits do, which tools it has. */
export function systemPrompt(o: {
  workspace: string;
  mode: PolicyMode;
  tools: ReadonlyArray<{ name: string; kind: string }>;
  /** The project instructions' text (collectInstructions), '' when there are none. */
  instructions?: string;
}): string {
  const modeLine =
    o.mode === 'read-only'
      ? 'This session is read-only: you can read and search, not change files or run code.'
      : o.mode === 'auto'
        ? 'Your edits land in a shadow copy of the workspace; the person reviews and accepts them later.'
        : 'Your edits land in a shadow copy of the workspace as reviewable changes; nothing reaches the real files until the person accepts it. Network access asks the person first.';
  return [
    "You are shadowbox, a careful coding agent working on the person's code.",
    `Workspace: ${o.workspace} (paths are relative to it; you cannot leave it).`,
    modeLine,
    'Code runs only in a WASI sandbox (tools run_bundle and python) that sees the same shadow files at /workspace; there is no shell.',
    `Tools: ${o.tools.map((t) => t.name).join(', ')}.`,
    'Read before you edit, keep changes small and focused, and end with a short summary of what you changed and why.',
    ...(o.tools.some((t) => t.name === 'plan')
      ? ['For a task of three or more steps, keep a checklist with the plan tool and update it as you go.']
      : []),
    ...(o.instructions ? ['', o.instructions] : []),
  ].join('\n');
}
