import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { type Git, gitMode, ZERO_OID } from './git.js';
import type { Base, Blob, LayerStore } from './layer.js';
import { initBareRepo, ObjectWriter } from './objects.js';

/** Creates the workspace's shadow repository (bare, in the state dir) unless it exists; no git process needed. */
export async function ensureRepo(repoDir: string): Promise<void> {
  await initBareRepo(repoDir);
}

const blobOf = (b: Base | undefined): Blob | null => (b && (b.type === 'file' || b.type === 'symlink') ? { oid: b.oid, mode: b.mode, type: b.type } : null);
const same = (a: Blob | null | undefined, b: Blob | null | undefined) => (a ?? null) === null ? (b ?? null) === null : !!b && a!.oid === b.oid && gitMode(a!.type, a!.mode) === gitMode(b.type, b.mode);

const trailer = (sessionId: string, turnId: string) => `\n\nShadowbox-Session: ${sessionId}\nShadowbox-Turn: ${turnId}\n`;

/**
 * Commits the layer's changes since the last checkpoint. Blobs, trees and the commit are written as
 * loose objects directly (objects.ts), trees holding only the paths the session touched: cost
 * follows the number of changed files, never the size of the workspace, and no git process runs. When the agent's edits are based on real
 * bytes history has not seen yet, a "real files" commit goes first so each turn commit is exactly
 * the agent's change.
 */
export async function commitCheckpoint(repoDir: string, store: LayerStore, turnId: string, summary: string): Promise<{ commit: string; files: string[] } | null> {
  const m = store.m;
  const baseChanges = new Map<string, Blob | null>();
  const turnChanges = new Map<string, Blob | null>();
  const dirty = Object.keys(m.dirty);
  for (const p of dirty) {
    const e = m.entries[p];
    if (e && e.kind !== 'dir') {
      const b = blobOf(e.base);
      if (!same(b, m.committed[p])) baseChanges.set(p, b);
    }
    const want: Blob | null = e ? (e.kind === 'file' ? { oid: e.oid, mode: e.mode, type: 'file' } : null) : blobOf(m.known[p]);
    const have = baseChanges.has(p) ? baseChanges.get(p) : (m.committed[p] ?? null);
    if (!same(want, have)) turnChanges.set(p, want);
  }
  for (const p of dirty) delete m.dirty[p];
  if (turnChanges.size === 0) {
    await store.save();
    return null;
  }
  const w = new ObjectWriter(repoDir);
  const blobs = [...new Set([...baseChanges.values(), ...turnChanges.values()].filter((b): b is Blob => b !== null).map((b) => b.oid))];
  for (let i = 0; i < blobs.length; i += 16) await Promise.all(blobs.slice(i, i + 16).map((oid) => w.putBlobFile(oid, store.objectPath(oid))));
  const commitFrom = async (changes: Map<string, Blob | null>, message: string) => {
    for (const [p, b] of changes) {
      if (b) m.committed[p] = b;
      else delete m.committed[p];
    }
    const tree = await w.putTree({ ...m.committed });
    const commit = await w.putCommit(tree, m.tip, message);
    m.tip = commit;
    return commit;
  };
  if (baseChanges.size > 0) await commitFrom(baseChanges, `shadowbox: real files before turn ${turnId}${trailer(m.sessionId, turnId)}`);
  const commit = await commitFrom(turnChanges, `${summary.trim() || `turn ${turnId}`}${trailer(m.sessionId, turnId)}`);
  await w.setRef(`refs/shadowbox/sessions/${m.sessionId}`, commit);
  const files = [...turnChanges.keys()].sort();
  m.checkpoints.push({ id: commit, turnId, summary: summary.trim(), time: new Date().toISOString() });
  await store.save();
  return { commit, files };
}

const NO_HOOKS = ['-c', 'core.hooksPath=/dev/null'];

/**
 * Creates `branch` holding the session's turn commits replayed on top of the person's HEAD. In a git
 * workspace the branch goes into their repository (objects unpacked, one new ref; index, HEAD and
 * working tree untouched); elsewhere it goes into the shadow repository.
 */
export async function exportBranch(git: Git, gitBinary: string, repoDir: string, store: LayerStore, branch: string): Promise<{ branch: string; commit: string; commits: number }> {
  const m = store.m;
  const bad = await git(['check-ref-format', '--branch', branch], { okCodes: [1, 128] });
  if (bad.exitCode !== 0 || branch.startsWith('-')) throw new ShadowboxError(ErrorCodes.ShadowFailed, 'invalid_branch', `not a valid branch name: ${branch}`, { branch });
  if (!m.tip || m.checkpoints.length === 0) throw new ShadowboxError(ErrorCodes.ShadowFailed, 'nothing_to_export', 'the session has no shadow commits yet', {});
  const probe = await git(['-C', store.root, 'rev-parse', '--path-format=absolute', '--git-common-dir', '--show-prefix'], { okCodes: [128] });
  if (probe.exitCode !== 0) {
    const exists = await git(['--git-dir', repoDir, 'show-ref', '--verify', '-q', `refs/heads/${branch}`], { okCodes: [1] });
    if (exists.exitCode === 0) throw new ShadowboxError(ErrorCodes.ShadowFailed, 'branch_exists', `branch ${branch} already exists in the shadow repository`, { branch });
    await git(['--git-dir', repoDir, 'update-ref', `refs/heads/${branch}`, m.tip, '']);
    return { branch, commit: m.tip, commits: m.checkpoints.length };
  }
  const [commonDir = '', prefix = ''] = probe.stdout.split('\n');
  const userGit = ['--git-dir', commonDir, ...NO_HOOKS];
  const exists = await git([...userGit, 'show-ref', '--verify', '-q', `refs/heads/${branch}`], { okCodes: [1] });
  if (exists.exitCode === 0) throw new ShadowboxError(ErrorCodes.ShadowFailed, 'branch_exists', `branch ${branch} already exists in your repository`, { branch });
  const head = (await git(['-C', store.root, 'rev-parse', '-q', '--verify', 'HEAD^{commit}'], { okCodes: [1] })).stdout.trim();
  const env = { GIT_INDEX_FILE: path.join(store.dir, `export-${randomBytes(4).toString('hex')}.index`), GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(commonDir, 'objects') };
  const shadowGit = ['--git-dir', repoDir];
  try {
    await git([...shadowGit, 'read-tree', ...(head ? [head] : ['--empty'])], { env });
    let parent = head;
    for (const c of m.checkpoints) {
      const out = (await git([...shadowGit, 'diff-tree', '-r', '-z', '--no-commit-id', '--root', '--no-renames', c.id], { env })).stdout.split('\0');
      let info = '';
      for (let i = 0; i + 1 < out.length; i += 2) {
        const [, , newMode, , newOid, status] = out[i]!.split(/[ :]/);
        info += status === 'D' ? `0 ${ZERO_OID}\t${prefix}${out[i + 1]}\0` : `${newMode} ${newOid}\t${prefix}${out[i + 1]}\0`;
      }
      await git([...shadowGit, 'update-index', '-z', '--index-info'], { input: info, env });
      const tree = (await git([...shadowGit, 'write-tree'], { env })).stdout.trim();
      const message = (await git([...shadowGit, 'log', '-1', '--format=%B', c.id], { env })).stdout;
      parent = (await git([...shadowGit, 'commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'], { input: message, env })).stdout.trim();
    }
    // Copy the new objects into the person's repository, then create the one ref (refused if it appeared meanwhile).
    const pack = execa(gitBinary, [...shadowGit, 'pack-objects', '--revs', '--stdout', '-q'], { input: `${parent}\n${head ? `--not\n${head}\n` : ''}`, env: { ...env }, extendEnv: true });
    await pack.pipe(gitBinary, [...userGit, 'unpack-objects', '-q']);
    await git([...userGit, 'update-ref', '-m', 'shadowbox export', `refs/heads/${branch}`, parent, '']);
    return { branch, commit: parent, commits: m.checkpoints.length };
  } finally {
    await rm(env.GIT_INDEX_FILE, { force: true });
  }
}
