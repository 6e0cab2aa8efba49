import type { Tool } from './define.js';

/** The one-line human summary of a call; the tool name when the input does not parse. */
export function summarize(tool: Tool<unknown>, input: unknown): string {
  if (!tool.summarize) return tool.name;
  const parsed = tool.input.safeParse(input);
  if (!parsed.success) return tool.name;
  try {
    return tool.summarize(parsed.data);
  } catch {
    return tool.name;
  }
}

/** The summary of an input that already passed validation. */
export function summarizeParsed<I>(tool: Tool<I>, input: I): string {
  try {
    return tool.summarize ? tool.summarize(input) : tool.name;
  } catch {
    return tool.name;
  }
}
