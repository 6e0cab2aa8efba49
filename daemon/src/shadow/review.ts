import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { Selected } from './accept.js';
import { diffItem, type ItemDiff, listItems, type ReviewItem } from './changes.js';
import { parseLineSelection } from '@shadowbox/protocol';
import { applyHunks, subHunk, type HunkInfo } from './diff.js';
import type { LayerStore } from './layer.js';
import { splitRelative } from './paths.js';

const itemPath = (i: ReviewItem) => (i.dir ? i.path.slice(0, -1) : i.path);
const norm = (p: string) => splitRelative(p).join('/');

/** True when `p` (a file or a folder the person named) covers the item. */
export function covers(p: string, it: ReviewItem): boolean {
  const ip = itemPath(it);
  const hit = (x: string) => p === '' || x === p || x.startsWith(p + '/');
  return hit(ip) || (it.oldPath !== undefined && hit(it.oldPath));
}

/** True when the real side no longer holds what the agent's edit was based on. */
export async function isStale(store: LayerStore, it: ReviewItem): Promise<boolean> {
  const target = await store.realMatches(itemPath(it), it.targetBase);
  const source = it.oldPath === undefined || (await store.realMatches(it.oldPath, it.old));
  return !(target && source);
}

/**
 * Turns a protocol selection into review items: everything when empty, whole files for `paths`
 * (a folder covers what is below it), some hunks for `hunks` (stable ids "path#<hash>").
 * (a hunk narrowed to lines for "path#id:LINES"). Unknown paths, unknown or already applied hunks, positions
 * ("path#2") and line selections outside a hunk are a typed error, never ignored.
 */
export async function selectItems(store: LayerStore, sel: { paths: string[]; hunks: string[] }): Promise<Selected[]> {
  const items = listItems(store);
  const diffs = new Map<ReviewItem, ItemDiff>();
  const diffOf = async (it: ReviewItem) => {
    let d = diffs.get(it);
    if (!d) diffs.set(it, (d = await diffItem(store, it)));
    return d;
  };
  const whole = new Set<ReviewItem>();
  if (sel.paths.length === 0 && sel.hunks.length === 0) items.forEach((i) => whole.add(i));
  for (const raw of sel.paths) {
    const p = norm(raw);
    const hits = items.filter((i) => covers(p, i));
    if (hits.length === 0)
      throw new ShadowboxError(ErrorCodes.HunkNotFound, 'not_pending', `nothing pending for ${raw}`, { path: raw });
    hits.forEach((i) => whole.add(i));
  }
  // Per item: the hunks named, each whole (null) or narrowed to some of its lines ("path#id:LINES").
  const some = new Map<ReviewItem, Map<string, Set<number> | null>>();
  const raws = new Map<ReviewItem, string[]>();
  for (const raw of sel.hunks) {
    const colon = raw.lastIndexOf(':');
    const hashAt = raw.lastIndexOf('#');
    const spec = colon > hashAt && hashAt > 0 ? raw.slice(colon + 1) : undefined;
    const name = spec === undefined ? raw : raw.slice(0, colon);
    const at = name.lastIndexOf('#');
    const p = at > 0 ? norm(name.slice(0, at)) : '';
    const key = name.slice(at + 1);
    const it = at > 0 ? items.find((i) => i.path === p) : undefined;
    const d = it ? await diffOf(it) : undefined;
    const h = d?.hunks.find((x) => x.id === `${p}#${key}`);
    if (!h && /^\d+$/.test(key)) throw positional(name, d?.hunks.map((x) => x.id) ?? []);
    if (!it || !h)
      throw new ShadowboxError(
        ErrorCodes.HunkNotFound,
        'unknown_hunk',
        `no pending hunk ${name} (unknown, or already accepted or rejected)`,
        { hunk: raw },
      );
    let named = some.get(it);
    if (!named) some.set(it, (named = new Map<string, Set<number> | null>()));
    raws.set(it, [...(raws.get(it) ?? []), raw]);
    if (spec === undefined) {
      named.set(h.id, null);
      continue;
    }
    const lines = parseLineSelection(spec);
    if (!lines || lines.some((n) => n > h.lines.length))
      throw badLines(raw, `${spec} is not a list of lines 1-${h.lines.length} of the hunk (e.g. 1-4 or 2,7-9)`);
    const prev = named.get(h.id);
    if (prev === null) continue;
    named.set(h.id, new Set([...(prev ?? []), ...lines]));
  }
  const out: Selected[] = [];
  for (const it of items) {
    if (whole.has(it)) out.push({ item: it, diff: () => diffOf(it), hunks: null });
    else if (some.has(it)) {
      const d = await diffOf(it);
      const named = some.get(it)!;
      const hunks: HunkInfo[] = [];
      const rest: HunkInfo[] = [];
      for (const h of d.hunks) {
        if (!named.has(h.id)) continue;
        const lines = named.get(h.id);
        if (!lines) {
          hunks.push(h);
          continue;
        }
        const spec = formatLines(lines);
        const part = subHunk(h, lines, `${h.id}:${spec}`);
        if (part === 'no_change') throw badLines(`${h.id}:${spec}`, `lines ${spec} of ${h.id} hold no change`);
        if (part === 'eol')
          throw badLines(
            `${h.id}:${spec}`,
            `${h.id} changes a last line without a newline; accept or reject that hunk whole`,
          );
        hunks.push(part);
        // What stays pending of the hunk once these lines are taken (reject keeps it, accept leaves it).
        const all = new Set(h.lines.map((_, i) => i + 1));
        const other = subHunk(h, new Set([...all].filter((i) => !lines.has(i))), h.id);
        if (typeof other === 'object') rest.push(other);
      }
      const wholeFile = rest.length === 0 && hunks.length === d.hunks.length && hunks.every((h, i) => h === d.hunks[i]);
      out.push({
        item: it,
        diff: () => diffOf(it),
        hunks: wholeFile ? null : hunks,
        named: raws.get(it) ?? [],
        ...(rest.length ? { rest } : {}),
      });
    }
  }
  return out;
}

/** "1-4,9" from a set of positions. */
function formatLines(lines: ReadonlySet<number>): string {
  const sorted = [...lines].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const from = sorted[i];
    while (i + 1 < sorted.length && sorted[i + 1] === sorted[i] + 1) i++;
    parts.push(from === sorted[i] ? String(from) : `${from}-${sorted[i]}`);
  }
  return parts.join(',');
}

function badLines(raw: string, why: string): ShadowboxError {
  return new ShadowboxError(ErrorCodes.HunkNotFound, 'bad_line_range', `${raw}: ${why}`, { hunk: raw });
}

/**
 * Why: a position ("f.txt#1") names a different hunk once another one is accepted or rejected, so
 * repeating an accept would take the next hunk; positions are refused and the stable ids shown instead.
 */
function positional(raw: string, ids: string[]): ShadowboxError {
  const list =
    ids.length > 0 ? `: ${ids.map((id, i) => `${id} (${i + 1})`).join(', ')}` : ' (none pending for that file)';
  return new ShadowboxError(
    ErrorCodes.HunkNotFound,
    'positional_hunk_id',
    `${raw} is a position, which shifts as hunks are accepted or rejected; name hunks by their stable ids${list}`,
    { hunk: raw, ids },
  );
}

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/** After a rejected deletion, ancestors that hid the real tree stop hiding it (their children carry their own entries). */
function unhideAncestors(store: LayerStore, rel: string): void {
  for (let a = parentOf(rel); a !== ''; a = parentOf(a)) {
    const e = store.m.entries[a];
    if (!e) continue;
    if (e.kind === 'deleted' && e.base.type === 'dir') delete store.m.entries[a];
    else if (e.kind === 'dir' && e.opaque) {
      if (e.base.type === 'dir') delete store.m.entries[a];
      // A folder that replaced a link or file keeps hiding what was there (the link is not a folder to show).
      else if (e.base.type === 'none') store.m.entries[a] = { ...e, opaque: false };
    }
  }
}

/** Drops selected changes from the layer (real files untouched); returns the paths / hunk ids dropped. */
export async function rejectSelection(store: LayerStore, selected: Selected[]): Promise<string[]> {
  const out: string[] = [];
  for (const s of selected) {
    const it = s.item;
    const p = itemPath(it);
    if (s.hunks === null || it.change === 'deleted') {
      delete store.m.entries[p];
      store.markDirty(p, 'review');
      // Keeping the link means dropping what the agent put in the folder that replaced it.
      if (it.replaced)
        for (const k of Object.keys(store.m.entries))
          if (k.startsWith(p + '/')) {
            delete store.m.entries[k];
            store.markDirty(k, 'review');
          }
      unhideAncestors(store, p);
      if (it.oldPath !== undefined) {
        delete store.m.entries[it.oldPath];
        store.markDirty(it.oldPath, 'review');
        unhideAncestors(store, it.oldPath);
      }
      // Report what the person named: the hunk ids, even when they were all that was left of the file.
      out.push(...(s.named ?? [it.path]));
      continue;
    }
    const d = await s.diff();
    // Hunks not named stay; of a hunk narrowed to some lines, the other lines stay (s.rest).
    const taken = new Set(s.hunks.map((h) => h.id.split(':')[0]));
    const keep = [...d.hunks.filter((h) => !taken.has(h.id)), ...(s.rest ?? [])];
    const text = applyHunks(d.oldText ?? '', keep);
    if (text === null)
      throw new ShadowboxError(ErrorCodes.HunkNotFound, 'hunk_does_not_apply', `hunks of ${it.path} no longer apply`, {
        path: it.path,
      });
    const e = store.m.entries[p];
    if (e?.kind === 'file') {
      const bytes = Buffer.from(text);
      store.m.entries[p] = { ...e, oid: await store.putBytes(bytes), size: bytes.byteLength, mtimeMs: Date.now() };
      store.markDirty(p, 'review');
    }
    out.push(...s.hunks.map((h) => h.id));
  }
  return out;
}
