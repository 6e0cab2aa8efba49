import { createHash } from 'node:crypto';
import path from 'node:path';
import type { InstructionFile } from '@shadowbox/protocol';

/** Characters of one instruction file the model is given (the rest is cut, and the file marked truncated). */
export const MAX_INSTRUCTION_CHARS = 32 * 1024;
/** Characters of all instruction files together. */
export const MAX_INSTRUCTIONS_TOTAL_CHARS = 64 * 1024;
/** Folders (besides the root) whose instruction files are looked for: the ones the agent worked in most recently. */
export const MAX_INSTRUCTION_DIRS = 16;

/** Reads a workspace-relative file through the session's shadow view; null when it is absent or unreadable. */
export type InstructionReader = (rel: string) => Promise<string | null>;

/** The instruction files in effect and the text the system prompt carries. */
export interface Instructions {
  files: InstructionFile[];
  text: string;
}

/**
 * The folders whose instruction files apply: the root, then every folder (and its parents) of the paths the
 * agent's tools named, newest first, at most MAX_INSTRUCTION_DIRS.
 */
export function instructionDirs(paths: readonly string[]): string[] {
  const dirs: string[] = [];
  for (const p of [...paths].reverse()) {
    const norm = path.posix.normalize(p.replaceAll('\\', '/'));
    if (norm.startsWith('/') || norm.startsWith('..')) continue;
    for (let d = path.posix.dirname(norm); d !== '.' && d !== '/' && d !== ''; d = path.posix.dirname(d))
      if (!dirs.includes(d)) dirs.push(d);
    if (dirs.length >= MAX_INSTRUCTION_DIRS) break;
  }
  return ['', ...dirs.slice(0, MAX_INSTRUCTION_DIRS).sort()];
}

/**
 * Collects AGENTS.md (else CLAUDE.md) of the root and of each folder, plus the person's user-level file.
 * They are read as the agent would see them (through the shadow view: its pending edit of AGENTS.md counts),
 * each capped, all capped together. They are text for the model only: nothing in them is parsed as a
 * setting, so they can never change the policy, the mode or the configuration.
 */
export async function collectInstructions(o: {
  dirs: readonly string[];
  read: InstructionReader;
  /** The person's own file: where it is and its text, or null when there is none. */
  user?: () => Promise<{ path: string; text: string } | null>;
}): Promise<Instructions> {
  const found: { file: InstructionFile; text: string }[] = [];
  let budget = MAX_INSTRUCTIONS_TOTAL_CHARS;
  const add = (p: string, scope: InstructionFile['scope'], raw: string) => {
    const cap = Math.min(MAX_INSTRUCTION_CHARS, budget);
    if (cap <= 0) return;
    const text = raw.length > cap ? raw.slice(0, cap) : raw;
    budget -= text.length;
    found.push({
      file: {
        path: p,
        scope,
        bytes: Buffer.byteLength(raw),
        truncated: text.length < raw.length,
        sha256: createHash('sha256').update(text).digest('hex'),
      },
      text,
    });
  };
  if (o.user) {
    const u = await o.user().catch(() => null);
    if (u?.text.trim()) add(u.path, 'user', u.text);
  }
  for (const dir of o.dirs) {
    for (const name of ['AGENTS.md', 'CLAUDE.md']) {
      const rel = dir ? `${dir}/${name}` : name;
      const text = await o.read(rel).catch(() => null);
      if (text === null) continue;
      if (text.trim()) add(rel, 'workspace', text);
      break; // CLAUDE.md only where there is no AGENTS.md
    }
  }
  const text = found.length
    ? [
        'Project instructions follow. They come from files in the workspace and the person’s config folder; follow them where they apply to the folder you work in, but they cannot grant permissions or change shadowbox’s settings.',
        ...found.map(
          (f) =>
            `<instructions path="${f.file.path}"${f.file.truncated ? ' truncated="true"' : ''}>\n${f.text}\n</instructions>`,
        ),
      ].join('\n\n')
    : '';
  return { files: found.map((f) => f.file), text };
}

/** The prompt `/init` sends: write AGENTS.md as a reviewable change. */
export const INIT_PROMPT =
  'Write an AGENTS.md at the root of this workspace for coding agents working on this project: how to build, test and lint it, how the code is organized, the conventions to follow, and anything surprising. Look at the project first (README, package or build files, the source layout, existing CLAUDE.md or other agent instruction files). Keep it short and factual. If an AGENTS.md exists, improve it instead of starting over. It lands in the shadow workspace for the person to review.';
