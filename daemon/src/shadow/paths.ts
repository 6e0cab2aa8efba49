import type { Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, type ReasonOf, ShadowboxError } from '../errors.js';

const MAX_LINKS = 40;

/** What a path check needs to know about the workspace. */
export interface PathRules {
  /** Realpath of the workspace root. */
  root: string;
  /** Canonical relative prefixes no write may touch besides any `.git` component (e.g. a state dir inside the workspace). */
  protectedPrefixes: string[];
  /** True when the layer owns this canonical path (so the real file system is not consulted for it). */
  shadowed(rel: string): boolean;
}

export interface ResolveOptions {
  intent: 'read' | 'write';
  /** Follow a symlink in the last component (stat/read/write) or not (remove/rename). */
  followLast: boolean;
  /** Filled with the lstat of every prefix looked at (null: absent), for the caller to reuse within the same operation. */
  seen?: Map<string, Promise<Stats | null>>;
}

function outside(reason: ReasonOf<'PathOutsideWorkspace'>, input: string, message: string): ShadowboxError {
  return new ShadowboxError(ErrorCodes.PathOutsideWorkspace, reason, message, { path: input });
}

/** Splits a workspace-relative path into components, refusing absolute paths and `..` that climbs out. */
export function splitRelative(input: string): string[] {
  if (typeof input !== 'string' || input.includes('\0')) throw outside('invalid_path', String(input), 'invalid path');
  const p = input.replaceAll('\\', '/');
  if (p.startsWith('/') || path.isAbsolute(input) || /^[A-Za-z]:/.test(p))
    throw outside('absolute_path', input, `absolute paths are refused: ${input}`);
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw outside('path_escape', input, `path leaves the workspace: ${input}`);
      out.pop();
    } else out.push(c);
  }
  return out;
}

/**
 * Canonical relative form of `input`: `..` and `.` folded, symlinks inside the workspace replaced by
 * their targets (manually, so the layer's own paths are honoured), anything leading outside refused.
 */
export async function resolvePath(rules: PathRules, input: string, options: ResolveOptions): Promise<string> {
  let pending = splitRelative(input);
  const done: string[] = [];
  let links = 0;
  // Every prefix is looked at in parallel up front (one round trip, not one per component); a
  // symlink found on the way redirects the walk, and the prefixes after it are then looked at anew.
  const looks = options.seen ?? new Map<string, Promise<Stats | null>>();
  const look = (rel: string) => {
    let p = looks.get(rel);
    if (!p) {
      p = lstat(path.join(rules.root, rel)).catch(() => null);
      looks.set(rel, p);
    }
    return p;
  };
  for (let i = 1; i <= pending.length; i++) {
    const rel = pending.slice(0, i).join('/');
    if (rules.shadowed(rel)) break;
    if (i < pending.length || options.followLast) void look(rel);
  }
  while (pending.length > 0) {
    const name = pending.shift()!;
    const candidate = [...done, name];
    const rel = candidate.join('/');
    const isLast = pending.length === 0;
    if (rules.shadowed(rel) || (isLast && !options.followLast)) {
      done.push(name);
      continue;
    }
    const st = await look(rel);
    if (!st) {
      // Does not exist in the real workspace: the rest of the path cannot contain real symlinks.
      done.push(name, ...pending);
      break;
    }
    if (!st.isSymbolicLink()) {
      done.push(name);
      continue;
    }
    if (++links > MAX_LINKS) throw outside('symlink_loop', input, `too many levels of symbolic links: ${input}`);
    const target = await readlink(path.join(rules.root, rel));
    const abs = path.resolve(path.join(rules.root, ...done), target);
    if (abs !== rules.root && !abs.startsWith(rules.root + path.sep))
      throw outside('symlink_outside', input, `symlink leads outside the workspace: ${input}`);
    const targetRel = path.relative(rules.root, abs);
    done.length = 0;
    pending = [...(targetRel === '' ? [] : targetRel.split(path.sep)), ...pending];
  }
  const rel = done.join('/');
  if (options.intent === 'write') checkProtected(rules, rel, input);
  return rel;
}

/** Refuses writes to `.git` (at any depth) and to shadowbox state inside the workspace. */
export function checkProtected(rules: PathRules, rel: string, input: string): void {
  const parts = rel.split('/');
  if (rel === '')
    throw new ShadowboxError(
      ErrorCodes.PathProtected,
      'workspace_root',
      'the workspace root itself cannot be written',
      { path: input },
    );
  if (parts.some((p) => p.toLowerCase() === '.git'))
    throw new ShadowboxError(ErrorCodes.PathProtected, 'git_dir', `writes to .git are refused: ${input}`, {
      path: input,
    });
  for (const prefix of rules.protectedPrefixes) {
    if (prefix === '' || rel === prefix || rel.startsWith(prefix + '/')) {
      throw new ShadowboxError(
        ErrorCodes.PathProtected,
        'shadow_state',
        `writes to shadowbox state are refused: ${input}`,
        { path: input },
      );
    }
  }
}
