import { posix } from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { Manifest, ManifestTool } from './manifest.js';

/** argv and stdin for one tool call, derived from the manifest's mapping. */
export interface ToolInvocation {
  entry: string;
  argv: string[];
  stdin?: string;
  /** Environment the manifest's entry asks for (e.g. HOME for the sqlite shell). */
  env: Record<string, string>;
}

function scalar(tool: string, field: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ShadowboxError(
    ErrorCodes.ToolInputInvalid,
    'argv_not_scalar',
    `${tool}: input field ${field} must be a string, number or boolean`,
    { field },
  );
}

/** Guest path under /workspace for a relative workspace path; refuses absolute paths and `..`. */
export function workspaceGuestPath(tool: string, field: string, p: string): string {
  const norm = posix.normalize(p.replace(/^\.\//, ''));
  if (p.startsWith('/') || norm === '..' || norm.startsWith('../') || p.includes('\0')) {
    throw new ShadowboxError(
      ErrorCodes.PathOutsideWorkspace,
      'path_escape',
      `${tool}: ${field} must be a path inside the workspace`,
      { field, path: p },
    );
  }
  return norm === '.' ? '/workspace' : `/workspace/${norm}`;
}

/** Maps a tool input (already validated against `inputSchema`) to argv/stdin for the WASI runner. */
export function mapToolInput(
  tool: ManifestTool,
  input: Record<string, unknown>,
  manifest?: Pick<Manifest, 'entries'>,
): ToolInvocation {
  const argv: string[] = [];
  for (const item of tool.argv) {
    if ('literal' in item) {
      if (item.when === undefined || input[item.when] === true) argv.push(item.literal);
      continue;
    }
    const v = input[item.arg];
    if (v === undefined || v === null) {
      if (item.default !== undefined) argv.push(item.default);
      if (item.optional || item.default !== undefined) continue;
      throw new ShadowboxError(
        ErrorCodes.ToolInputInvalid,
        'missing_field',
        `${tool.name}: input field ${item.arg} is required`,
        { field: item.arg },
      );
    }
    const s = scalar(tool.name, item.arg, v);
    argv.push(`${item.prefix ?? ''}${item.workspacePath ? workspaceGuestPath(tool.name, item.arg, s) : s}`);
  }
  const raw = tool.stdin ? input[tool.stdin.arg] : undefined;
  const env = manifest?.entries.find((e) => e.name === tool.entry)?.env ?? {};
  return {
    entry: tool.entry,
    argv,
    env,
    ...(raw === undefined || raw === null ? {} : { stdin: scalar(tool.name, tool.stdin?.arg ?? '', raw) }),
  };
}
