import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, type ReasonOf, ShadowboxError } from '../errors.js';
import { type Git, gitMode, ZERO_OID } from './git.js';
import { blobOf, copyBlob } from './history.js';
import type { LayerStore } from './layer.js';
import type { Blob } from './layer-types.js';
import { ObjectWriter } from './objects.js';

/** Where the branch went: the person's repository (on their HEAD), or the shadow one when there is none. */
export interface ExportResult {
  branch: string;
  commit: string;
  commits: number;
  where: 'workspace' | 'shadow';
  repository: string;
}

/** A path in a git tree: mode and object id; null = absent. */
type TreeEntry = { mode: string; oid: string } | null;
/** What the branch's last commit must hold for a path: a blob, nothing, or whatever the person's HEAD holds. */
type Want = TreeEntry | 'head';

const NO_HOOKS = ['-c', 'core.hooksPath=/dev/null'];
const toEntry = (b: Blob | null): TreeEntry => (b ? { mode: gitMode(b.type, b.mode), oid: b.oid } : null);
const sameEntry = (a: TreeEntry, b: TreeEntry) =>
  a === null ? b === null : b !== null && a.mode === b.mode && a.oid === b.oid;

/**
 * What the session's work holds for a path now: the pending layer entry, else what the path holds
 * after its accept or reject (`known`). undefined for paths git does not track (directories).
 */
function currentOf(store: LayerStore, p: string): Blob | null | undefined {
  const e = store.m.entries[p];
  if (!e) return p in store.m.known ? blobOf(store.m.known[p]) : undefined;
  if (e.kind === 'file') return { oid: e.oid, mode: e.mode, type: e.link !== undefined ? 'symlink' : 'file' };
  return e.kind === 'deleted' && blobOf(e.base) ? null : undefined;
}

function branchError(reason: ReasonOf<'ShadowFailed'>, message: string, branch: string): ShadowboxError {
  return new ShadowboxError(ErrorCodes.ShadowFailed, reason, message, { branch });
}

function stateMessage(sessionId: string, reverted: string[], changed: string[]): string {
  const list = (xs: string[]) => (xs.length > 20 ? `${xs.slice(0, 20).join(', ')}, … (${xs.length})` : xs.join(', '));
  return [
    'shadowbox: review state at export',
    '',
    'Brings the branch to what is pending or accepted now: changes the person rejected are reverted,',
    'edits made since the last turn are included.',
    '',
    ...(reverted.length ? [`Reverted: ${list(reverted)}`] : []),
    ...(changed.length ? [`Changed: ${list(changed)}`] : []),
    '',
    `Shadowbox-Session: ${sessionId}`,
    '',
  ].join('\n');
}

/**
 * Creates `branch` holding the session's turn commits replayed on top of the person's HEAD, then, if
 * the review changed anything since (a reject, an undo, edits after the last turn), one more commit
 * that makes the branch hold exactly HEAD + the work that is pending or accepted now: a rejected
 * file is as HEAD has it. In a git workspace the branch goes into their repository (objects
 * unpacked, one new ref; index, HEAD and working tree untouched); elsewhere into the shadow repository.
 */
export async function exportBranch(
  git: Git,
  gitBinary: string,
  repoDir: string,
  store: LayerStore,
  branch: string,
): Promise<ExportResult> {
  const m = store.m;
  const bad = await git(['check-ref-format', '--branch', branch], { okCodes: [1, 128] });
  if (bad.exitCode !== 0 || branch.startsWith('-'))
    throw branchError('invalid_branch', `not a valid branch name: ${branch}`, branch);
  if (m.checkpoints.length === 0 && Object.keys(m.entries).length === 0 && Object.keys(m.dirty).length === 0)
    throw branchError('nothing_to_export', 'the session has no shadow commits or pending changes yet', branch);
  await store.ensureDirs();
  const probe = await git(
    ['-C', store.root, 'rev-parse', '--path-format=absolute', '--git-common-dir', '--show-prefix'],
    { okCodes: [128] },
  );
  if (probe.exitCode !== 0) return exportInShadowRepo(git, repoDir, store, branch);
  const [commonDir = '', prefix = ''] = probe.stdout.split('\n');
  const userGit = ['--git-dir', commonDir, ...NO_HOOKS];
  const exists = await git([...userGit, 'show-ref', '--verify', '-q', `refs/heads/${branch}`], { okCodes: [1] });
  if (exists.exitCode === 0)
    throw branchError('branch_exists', `branch ${branch} already exists in your repository`, branch);
  const head = (
    await git(['-C', store.root, 'rev-parse', '-q', '--verify', 'HEAD^{commit}'], { okCodes: [1] })
  ).stdout.trim();
  const env = {
    GIT_INDEX_FILE: path.join(store.dir, `export-${randomBytes(4).toString('hex')}.index`),
    GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(commonDir, 'objects'),
    GIT_LITERAL_PATHSPECS: '1',
  };
  const shadowGit = ['--git-dir', repoDir];
  const run = (args: string[], input?: string) =>
    git([...shadowGit, ...args], { env, ...(input !== undefined ? { input } : {}) });
  try {
    await run(['read-tree', ...(head ? [head] : ['--empty'])]);
    let parent = head;
    let commits = 0;
    // Each path's state before the first turn that touched it: the base the agent's net change is measured from.
    const firstOld = new Map<string, TreeEntry>();
    for (const c of m.checkpoints) {
      const out = (await run(['diff-tree', '-r', '-z', '--no-commit-id', '--root', '--no-renames', c.id])).stdout.split(
        '\0',
      );
      let info = '';
      for (let i = 0; i + 1 < out.length; i += 2) {
        const [, oldMode = '', newMode, oldOid = '', newOid, status] = out[i].split(/[ :]/);
        const p = out[i + 1];
        if (!firstOld.has(p)) firstOld.set(p, /^0+$/.test(oldMode) ? null : { mode: oldMode, oid: oldOid });
        info += status === 'D' ? `0 ${ZERO_OID}\t${prefix}${p}\0` : `${newMode} ${newOid}\t${prefix}${p}\0`;
      }
      await run(['update-index', '-z', '--index-info'], info);
      const tree = (await run(['write-tree'])).stdout.trim();
      const message = (await run(['log', '-1', '--format=%B', c.id])).stdout;
      parent = (await run(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'], message)).stdout.trim();
      commits++;
    }
    // The review state: per touched path, the work as it is now; where that equals its base, HEAD's version.
    const wants = new Map<string, Want>();
    for (const p of new Set([...firstOld.keys(), ...Object.keys(m.entries)])) {
      const cur = currentOf(store, p);
      if (cur === undefined) continue;
      const base = firstOld.has(p) ? firstOld.get(p)! : toEntry(blobOf(m.entries[p]?.base));
      wants.set(p, sameEntry(toEntry(cur), base) ? 'head' : toEntry(cur));
    }
    const headHas = head
      ? await lsTree(
          run,
          head,
          prefix,
          [...wants].filter(([, w]) => w === 'head').map(([p]) => p),
        )
      : new Map<string, TreeEntry>();
    const w = new ObjectWriter(repoDir);
    let info = '';
    for (const [p, want] of wants) {
      const e = want === 'head' ? (headHas.get(p) ?? null) : want;
      if (e && want !== 'head') await copyBlob(w, store, e.oid);
      info += e ? `${e.mode} ${e.oid}\t${prefix}${p}\0` : `0 ${ZERO_OID}\t${prefix}${p}\0`;
    }
    const before = (await run(['write-tree'])).stdout.trim();
    if (info) await run(['update-index', '-z', '--index-info'], info);
    const after = (await run(['write-tree'])).stdout.trim();
    if (after !== before) {
      const changedPaths = (await run(['diff-tree', '-r', '-z', '--name-only', '--no-renames', before, after])).stdout
        .split('\0')
        .filter(Boolean)
        .map((p) => p.slice(prefix.length));
      const reverted = changedPaths.filter((p) => wants.get(p) === 'head');
      const message = stateMessage(
        m.sessionId,
        reverted,
        changedPaths.filter((p) => wants.get(p) !== 'head'),
      );
      parent = (await run(['commit-tree', after, ...(parent ? ['-p', parent] : []), '-F', '-'], message)).stdout.trim();
      commits++;
    }
    if (commits === 0)
      throw branchError('nothing_to_export', 'the session has no shadow commits or pending changes yet', branch);
    // Copy the new objects into the person's repository, then create the one ref (refused if it appeared meanwhile).
    // execa (~100 modules) loads on the first call, not with the daemon.
    const { execa } = await import('execa');
    const pack = execa(gitBinary, [...shadowGit, 'pack-objects', '--revs', '--stdout', '-q'], {
      input: `${parent}\n${head ? `--not\n${head}\n` : ''}`,
      env: { ...env },
      extendEnv: true,
    });
    await pack.pipe(gitBinary, [...userGit, 'unpack-objects', '-q']);
    await git([...userGit, 'update-ref', '-m', 'shadowbox export', `refs/heads/${branch}`, parent, '']);
    return { branch, commit: parent, commits, where: 'workspace', repository: commonDir };
  } finally {
    await rm(env.GIT_INDEX_FILE, { force: true });
  }
}

/** HEAD's entries for some workspace paths (absent paths are missing from the map), in batches. */
async function lsTree(
  run: (args: string[]) => Promise<{ stdout: string }>,
  head: string,
  prefix: string,
  paths: string[],
): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const wanted = new Set(paths);
  for (let i = 0; i < paths.length; i += 500) {
    const r = await run([
      'ls-tree',
      '-r',
      '-z',
      '--full-tree',
      head,
      '--',
      ...paths.slice(i, i + 500).map((p) => prefix + p),
    ]);
    for (const line of r.stdout.split('\0')) {
      const m = /^(\d+) \w+ ([0-9a-f]+)\t(.*)$/s.exec(line);
      const p = m?.[3]?.slice(prefix.length);
      if (m && p !== undefined && wanted.has(p)) out.set(p, { mode: m[1], oid: m[2] });
    }
  }
  return out;
}

/** A workspace that is not a git repository: the branch goes into the shadow repository, ending at the review state. */
async function exportInShadowRepo(git: Git, repoDir: string, store: LayerStore, branch: string): Promise<ExportResult> {
  const m = store.m;
  const exists = await git(['--git-dir', repoDir, 'show-ref', '--verify', '-q', `refs/heads/${branch}`], {
    okCodes: [1],
  });
  if (exists.exitCode === 0)
    throw branchError('branch_exists', `branch ${branch} already exists in the shadow repository`, branch);
  // History trees hold every touched path; paths changed since the last checkpoint take their state now.
  const w = new ObjectWriter(repoDir);
  const files: Record<string, Blob> = { ...m.committed };
  const changed: string[] = [];
  for (const p of Object.keys(m.dirty)) {
    const cur = currentOf(store, p);
    if (cur === undefined) continue;
    const had = m.committed[p] ?? null;
    if (sameEntry(toEntry(cur), toEntry(had))) continue;
    changed.push(p);
    if (cur) {
      await copyBlob(w, store, cur.oid);
      files[p] = cur;
    } else delete files[p];
  }
  let commit = m.tip;
  let commits = m.checkpoints.length;
  if (changed.length > 0) {
    commit = await w.putCommit(await w.putTree(files), m.tip, stateMessage(m.sessionId, [], changed.sort()));
    commits++;
  }
  if (!commit || commits === 0)
    throw branchError('nothing_to_export', 'the session has no shadow commits or pending changes yet', branch);
  await git(['--git-dir', repoDir, 'update-ref', `refs/heads/${branch}`, commit, '']);
  return { branch, commit, commits, where: 'shadow', repository: repoDir };
}
