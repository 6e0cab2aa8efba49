import type { Stats } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, type ReasonOf, ShadowboxError } from '../errors.js';

const MAX_LINKS = 40;
/** Components of a workspace path at most (deeper real trees do not occur in source code; a deeper request is an attack). */
export const MAX_PATH_DEPTH = 256;
/** Bytes of a canonical workspace path at most (Linux's PATH_MAX is 4096 for the whole absolute path). */
export const MAX_PATH_BYTES = 4096;
/** Bytes of one component at most (NAME_MAX). */
const MAX_NAME_BYTES = 255;

/** How much of a path the layer owns: every path below (`all`: a file, a deletion, an opaque folder), or a folder through which the real tree shows (`dir`). */
export type LayerOwnership = 'all' | 'dir' | null;

/** What a path check needs to know about the workspace. */
export interface PathRules {
  /** Realpath of the workspace root. */
  root: string;
  /** Canonical relative prefixes no write may touch besides any `.git` component (e.g. a state dir inside the workspace). */
  protectedPrefixes: string[];
  /** The layer's own entry for a canonical path (its ancestors already walked; O(1)). */
  owns(rel: string): LayerOwnership;
  /** The target of a symlink the layer holds at a canonical path (one the agent made), else null; O(1). */
  linkOf?(rel: string): string | null;
}

export interface ResolveOptions {
  intent: 'read' | 'write';
  /** Follow a symlink in the last component (stat/read/write) or not (remove/rename). */
  followLast: boolean;
  /** Filled with the lstat of every prefix looked at (null: absent), for the caller to reuse within the same operation. */
  seen?: Map<string, Promise<Stats | null>>;
}

function outside(
  reason: ReasonOf<'PathOutsideWorkspace'>,
  input: string,
  message: string,
  extra: Record<string, unknown> = {},
): ShadowboxError {
  const shown = input.length > 200 ? `${input.slice(0, 200)}…` : input;
  return new ShadowboxError(ErrorCodes.PathOutsideWorkspace, reason, message, { path: shown, ...extra });
}

/** Refuses a canonical path deeper or longer than the caps (typed, so a hostile 10,000-level path costs nothing). */
function checkSize(parts: string[], input: string): void {
  if (parts.length > MAX_PATH_DEPTH)
    throw outside(
      'path_too_deep',
      input,
      `path has ${parts.length} components; at most ${MAX_PATH_DEPTH} are allowed`,
      {
        depth: parts.length,
        max: MAX_PATH_DEPTH,
      },
    );
  let bytes = parts.length - 1;
  for (const c of parts) {
    const n = Buffer.byteLength(c);
    if (n > MAX_NAME_BYTES)
      throw outside('name_too_long', input, `a path component is ${n} bytes; at most ${MAX_NAME_BYTES} are allowed`, {
        max: MAX_NAME_BYTES,
      });
    bytes += n;
  }
  if (bytes > MAX_PATH_BYTES)
    throw outside('path_too_long', input, `path is ${bytes} bytes; at most ${MAX_PATH_BYTES} are allowed`, {
      bytes,
      max: MAX_PATH_BYTES,
    });
}

/** Splits a workspace-relative path into components, refusing absolute paths, `..` that climbs out, and paths over the caps. */
export function splitRelative(input: string): string[] {
  if (typeof input !== 'string' || input.includes('\0')) throw outside('invalid_path', String(input), 'invalid path');
  // `./` and `a/..` may pad a path; four times the cap is more than any honest spelling needs.
  if (input.length > 4 * MAX_PATH_BYTES)
    throw outside(
      'path_too_long',
      input,
      `path is ${input.length} characters; at most ${MAX_PATH_BYTES} bytes are allowed`,
      {
        max: MAX_PATH_BYTES,
      },
    );
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
  checkSize(out, input);
  return out;
}

/**
 * Canonical relative form of `input`: `..` and `.` folded, symlinks inside the workspace replaced by
 * their targets (manually, so the layer's own paths are honoured), anything leading outside refused.
 * O(depth): each component is looked at once. Where the layer owns a path whole (a file, a deletion, an
 * opaque folder) the real tree below it is not consulted; where it has a folder the real tree shows
 * through, the real path is still checked — a real symlink (or file) there means nothing real shows
 * through below it, so no lookup ever follows it (the shortcut that used to skip this check is gone).
 */
export async function resolvePath(rules: PathRules, input: string, options: ResolveOptions): Promise<string> {
  let pending = splitRelative(input);
  /** The canonical prefix resolved so far. */
  let done = '';
  const add = (name: string) => (done = done === '' ? name : `${done}/${name}`);
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
  let prefix = '';
  for (let i = 0; i < pending.length; i++) {
    prefix = i === 0 ? pending[0] : `${prefix}/${pending[i]}`;
    const own = rules.owns(prefix);
    if (own === 'all') break;
    if (i < pending.length - 1 || options.followLast) void look(prefix);
    // Below a layer folder the real tree may not show through: those prefixes are looked at one by one.
    if (own === 'dir') break;
  }
  // Once the layer owns a prefix whole, or the real tree stops being a plain folder, nothing below is real.
  let layerOnly = false;
  /** Continues the walk at a link's target (a real link's or one the layer holds), refused when it leaves the root. */
  const follow = (target: string, i: number): void => {
    if (++links > MAX_LINKS) throw outside('symlink_loop', input, `too many levels of symbolic links: ${input}`);
    const abs = path.resolve(path.join(rules.root, done), target);
    if (abs !== rules.root && !abs.startsWith(rules.root + path.sep))
      throw outside('symlink_outside', input, `symlink leads outside the workspace: ${input}`);
    const targetRel = path.relative(rules.root, abs);
    done = '';
    pending = [...(targetRel === '' ? [] : targetRel.split(path.sep)), ...pending.slice(i + 1)];
    checkSize(pending, input);
    layerOnly = false;
  };
  for (let i = 0; i < pending.length; i++) {
    const name = pending[i];
    const rel = done === '' ? name : `${done}/${name}`;
    const isLast = i === pending.length - 1;
    // A link the layer holds is followed like a real one (and, like one, never to outside the root).
    const layerLink = rules.linkOf?.(rel) ?? null;
    if (layerLink !== null && (!isLast || options.followLast)) {
      follow(layerLink, i);
      i = -1;
      continue;
    }
    const own = layerOnly ? 'all' : rules.owns(rel);
    if (own === 'all' || (isLast && !options.followLast)) {
      add(name);
      if (own === 'all') layerOnly = true;
      continue;
    }
    const st = await look(rel);
    if (own === 'dir') {
      // The layer's folder; the real tree shows through only where it is a real directory.
      if (!st?.isDirectory()) layerOnly = true;
      add(name);
      continue;
    }
    if (!st) {
      // Does not exist in the real workspace: the rest of the path cannot contain real symlinks.
      for (const rest of pending.slice(i)) add(rest);
      break;
    }
    if (!st.isSymbolicLink()) {
      add(name);
      continue;
    }
    follow(await readlink(path.join(rules.root, rel)), i);
    i = -1;
  }
  const rel = done;
  if (options.intent === 'write') checkProtected(rules, rel, input);
  return rel;
}

/** Refuses writes to `.git` (at any depth) and to shadowbox state inside the workspace. */
export function checkProtected(rules: Pick<PathRules, 'protectedPrefixes'>, rel: string, input: string): void {
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
