import { readdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type {
  ResultOf,
  ShadowAccept,
  ShadowDiff,
  ShadowExport,
  ShadowFile,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
} from '@shadowbox/protocol';
import type { AuditSink } from '../audit/index.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { type Logger, workspaceStateDir } from '../state/index.js';
import { type AcceptOutcome, applyAccept } from './accept.js';
import { createGit, type Git } from './git.js';
import { exportBranch } from './export.js';
import { commitCheckpoint, ensureRepo } from './history.js';
import { listItems } from './changes.js';
import { Journal } from './journal.js';
import { LayerStore } from './layer.js';
import { Mutex } from './mutex.js';
import { LayeredView } from './layered-view.js';
import { RepoObjects } from './objects.js';
import { RepoMaintenance } from './repack.js';
import { collectLayer, type LayerGcOptions } from './layer-gc.js';
import type { FaultHook } from './fault.js';
import { ProtectedGlobs, type ProtectedPathsSource } from './protect.js';
import { RealWriter } from './real-writer.js';
import { type Recovered, recoverSession } from './recover.js';
import { rejectSelection, selectItems } from './review.js';
import { rewindLayer } from './rewind.js';
import { diffOf, digest, fileOf, statusOf } from './review-read.js';
import type { WorkspaceView } from './view.js';
import { applyUndo } from './undo.js';
import { watchPaths, type PathsWatcher } from './watch.js';
import { type OverlayLower, writeOverlayLower } from './overlay-lower.js';

export interface ReviewTarget {
  sessionId: string;
  workspace: string;
}

/** The shadow workspace: layered views for tools, shadow git history, and the review gate. */
export interface ShadowService {
  /** The session's layered view (created on first use; survives daemon restarts — layer persisted on disk). */
  view(sessionId: string, workspace: string): Promise<WorkspaceView>;
  /** Commit the layer's changes since the last checkpoint into the shadow git repo as one commit; null if nothing changed. */
  checkpoint(
    sessionId: string,
    workspace: string,
    turnId: string,
    summary: string,
  ): Promise<{ commit: string; files: string[] } | null>;
  /**
   * Takes back what the `drop` turns did to the session's shadow workspace: each path their checkpoints
   * changed holds again what it held after the last `keep` turn that changed it (or the real file). The
   * person's files are not touched; the change is committed to the shadow history (`label`). Returns the paths.
   * Refused (rewind_too_far) when a dropped turn's checkpoint left the rewind window (`gc.rewindDepth`).
   */
  rewind(t: ReviewTarget, keep: readonly string[], drop: readonly string[], label: string): Promise<string[]>;
  status(t: ReviewTarget): Promise<ResultOf<typeof ShadowStatus>>;
  /**
   * Pending-change and undo counts of some sessions of one workspace. A session whose layer folder does not
   * exist (it never wrote anything) counts zero and is not opened, so listing many sessions stays cheap.
   */
  pending(workspace: string, sessionIds: string[]): Promise<PendingCounts[]>;
  diff(t: ReviewTarget, paths?: string[]): Promise<ResultOf<typeof ShadowDiff>>;
  accept(
    t: ReviewTarget,
    sel: { paths: string[]; hunks: string[]; force: boolean },
    by: string,
  ): Promise<ResultOf<typeof ShadowAccept>>;
  reject(
    t: ReviewTarget,
    sel: { paths: string[]; hunks: string[] },
    by: string,
  ): Promise<ResultOf<typeof ShadowReject>>;
  undo(t: ReviewTarget, by: string): Promise<ResultOf<typeof ShadowUndo>>;
  exportBranch(t: ReviewTarget, branch: string): Promise<ResultOf<typeof ShadowExport>>;
  file(t: ReviewTarget, path: string): Promise<ResultOf<typeof ShadowFile>>;
  /**
   * Writes the session's pending changes into `dir` as an overlayfs lower layer (O(pending changes)):
   * files, links, new folders, deletions as whiteouts (hard links to `whiteout`, a 0/0 character device),
   * and whiteouts for `hide` (paths the run must not see). Returns the folders to mark opaque.
   */
  writeOverlayLower(t: ReviewTarget, dir: string, opts: { whiteout: string; hide: string[] }): Promise<OverlayLower>;
  /**
   * Watches the person's versions of the paths the workspace's sessions changed (watch.ts: a few folders,
   * never the whole tree; updated after each checkpoint, accept, reject and undo); calls back with the
   * changed paths among them (debounced).
   */
  watch(workspace: string, onChange: (paths: string[]) => void): () => void;
  /** Closes the open files of an idle session's layer (log, blob store); its next use reopens them. */
  release(t: ReviewTarget): Promise<void>;
  close(): Promise<void>;
}

export interface ShadowServiceDeps {
  stateDir: string;
  /** Where accepts, rejects, undos and recoveries are audited; they are signed (`seal`) before any answer. */
  audit: AuditSink & Required<Pick<AuditSink, 'seal'>>;
  logger: Logger;
  /** The git binary (default: `git` on PATH). */
  git?: string;
  /**
   * Protected path globs of a workspace (picomatch, relative to it; e.g. the policy's `protected` list).
   * Every write, mkdir, remove and rename through a layered view is refused when its path matches
   * (PathProtected/protected_path), so sandboxed code that writes the view directly is held to the
   * same list as declared tool paths. Asked at most every 500 ms per workspace; a failure refuses writes.
   */
  protectedPaths?: ProtectedPathsSource;
  /** Test seam: called after each real path an accept renames or removes (index from 0), before the next. */
  onAcceptStep?: (index: number, path: string) => Promise<void> | void;
  /** Garbage collection thresholds (defaults in repack.ts and layer-gc.ts). */
  gc?: ShadowGcOptions;
  /** Test seam: called before every durable file operation (fault injection: fail it, cut it short, or crash there). */
  faults?: FaultHook;
}

/** When storage is compacted. */
export interface ShadowGcOptions extends LayerGcOptions {
  /** A workspace's shadow repository is repacked (`git repack -a -d`) once it holds more packs than this (default 32). */
  maxPacks?: number;
}

/** What shadow/pending reports of one session. */
export interface PendingCounts {
  sessionId: string;
  files: number;
  undoable: number;
  lastAcceptAt: string | null;
}

interface Session {
  id: string;
  root: string;
  repoDir: string;
  store: LayerStore;
  lock: Mutex;
  view: LayeredView;
  journal: Journal;
  /** A writer for the person's files (accept, undo, recovery): symlinks refused, `.git` and the state dir protected. */
  writer: () => RealWriter;
  /** An accept or undo failed part-way (a full disk): its journal is settled before the session's next review call. */
  unsettled: boolean;
}

const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Why: one object owns every session's layer and the per-workspace shadow repository; wiring injects audit and logger. */
export function createShadowService(deps: ShadowServiceDeps): ShadowService {
  const gitBinary = deps.git ?? 'git';
  const git: Git = createGit(gitBinary);
  const sessions = new Map<string, Promise<Session>>();
  const repos = new Map<string, Promise<void>>();
  const repoObjects = new Map<string, RepoObjects>();
  const objectsOf = (repoDir: string) => {
    let o = repoObjects.get(repoDir);
    if (!o) repoObjects.set(repoDir, (o = new RepoObjects(repoDir)));
    return o;
  };
  const maintenance = new Map<string, RepoMaintenance>();
  const maintenanceOf = (repoDir: string) => {
    let m = maintenance.get(repoDir);
    if (!m)
      maintenance.set(
        repoDir,
        (m = new RepoMaintenance(repoDir, git, objectsOf(repoDir), deps.logger, deps.gc?.maxPacks, deps.faults)),
      );
    return m;
  };
  // Per workspace root, its watchers (one per service.watch call); each watches the paths the loaded sessions changed.
  const watchers = new Map<string, Set<PathsWatcher>>();
  const guards = new Map<string, ProtectedGlobs>();
  const guardFor = (root: string): ProtectedGlobs | null => {
    if (!deps.protectedPaths) return null;
    let g = guards.get(root);
    if (!g) guards.set(root, (g = new ProtectedGlobs(deps.protectedPaths, root)));
    return g;
  };

  let closed = false;
  const realRoot = async (workspace: string) => {
    try {
      return await realpath(path.resolve(workspace));
    } catch (e) {
      throw new ShadowboxError(
        ErrorCodes.FileNotFound,
        'workspace_not_found',
        `workspace not found: ${workspace}`,
        { path: workspace },
        { cause: e },
      );
    }
  };
  const protectedIn = async (root: string) => {
    const state = await realpath(deps.stateDir).catch(() => path.resolve(deps.stateDir));
    const rel = path.relative(root, state);
    return rel.startsWith('..') || path.isAbsolute(rel) ? [] : [rel.split(path.sep).join('/')];
  };

  const openSession = async (sessionId: string, root: string): Promise<Session> => {
    const wsDir = workspaceStateDir(deps.stateDir, root);
    const dir = path.join(wsDir, 'shadow', 'sessions', sessionId);
    const store = await LayerStore.open(dir, root, sessionId, {
      logger: deps.logger,
      ...(deps.faults ? { faults: deps.faults } : {}),
    });
    const lock = new Mutex();
    const protectedPrefixes = await protectedIn(root);
    const keepDir = path.join(dir, 'keep');
    const s: Session = {
      id: sessionId,
      root,
      repoDir: path.join(wsDir, 'shadow.git'),
      store,
      lock,
      journal: new Journal(path.join(dir, 'accepts'), deps.faults, (file) =>
        deps.logger.warn(`accept journal: ${file} does not parse; recovery leaves it and the accept it records alone`),
      ),
      view: new LayeredView(store, lock, protectedPrefixes, guardFor(root)),
      writer: () =>
        new RealWriter(store.real, { protectedPrefixes, keepDir, ...(deps.faults ? { faults: deps.faults } : {}) }),
      unsettled: false,
    };
    // Second names of files an accept replaced (RealWriter.keep) that a crash left: nothing needs them.
    const left = await readdir(keepDir).catch(() => []);
    if (left.length > 0)
      deps.logger.warn(`shadow: session ${sessionId}: removing ${left.length} kept name(s) an interrupted accept left`);
    await rm(keepDir, { recursive: true, force: true });
    // What recovery finished (or failed part-way through) is audited: signed before any answer goes out.
    let recovered = true;
    try {
      recovered = (await recoverSession(s, deps)).length > 0;
    } finally {
      if (recovered) await sealQuietly(root);
    }
    await collect(s);
    return s;
  };

  /** Compacts the session's layer storage when enough of it is garbage; a failure is logged, never fails the caller. Caller holds the lock (or owns the session alone). */
  const collect = async (s: Session) => {
    try {
      const r = await collectLayer(s.store, s.journal, path.join(s.store.dir, 'accepts'), {
        ...deps.gc,
        ...(deps.faults ? { faults: deps.faults } : {}),
      });
      if (r)
        deps.logger.debug(
          `shadow: compacted layer of ${s.id}: ${r.bytesBefore} → ${r.bytesAfter} bytes, ${r.objectsDropped} objects and ${r.filesRemoved} files dropped in ${r.ms.toFixed(0)} ms`,
        );
    } catch (e) {
      deps.logger.warn(
        `shadow: layer compaction of ${s.id} failed (layer unchanged or already switched whole): ${String(e)}`,
      );
    }
  };

  /** Signs the workspace's audit log; a failure is logged (the call that asked goes on: its change has happened). */
  const sealQuietly = (root: string): Promise<void> =>
    Promise.resolve()
      .then(() => deps.audit.seal(root))
      .catch((e: unknown) => deps.logger.warn(`audit: signing the log of ${root} failed (${String(e)})`));

  /** Finishes an accept or undo that failed part-way in this process (space came back), like recovery at open. */
  const settle = async (s: Session): Promise<Recovered[]> => {
    if (!s.unsettled) return [];
    const done = await recoverSession(s, deps);
    s.unsettled = false;
    return done;
  };
  /** Runs a review call under the session lock, after settling what a failed accept or undo left. */
  const locked = <T>(s: Session, fn: () => Promise<T>): Promise<T> =>
    s.lock.run(async () => {
      await settle(s);
      return fn();
    });
  /** The audit entry of an accept that wrote or refused something. */
  const auditAccept = async (
    s: Session,
    r: AcceptOutcome,
    sel: { hunks: string[]; force: boolean },
    by: string,
  ): Promise<void> => {
    if (!r.record && r.conflicts.length === 0) return;
    const files = (r.record?.files ?? []).map((f) => ({
      path: f.path,
      action: f.action,
      before: digest(f.before),
      after: digest(f.after),
    }));
    const dirs = r.record?.dirs ?? [];
    await deps.audit.append({
      type: 'shadow.accept',
      workspace: s.root,
      sessionId: s.id,
      data: {
        acceptId: r.acceptId,
        by,
        force: sel.force,
        files,
        conflicts: r.conflicts.map((c) => c.path),
        hunks: sel.hunks,
        ...(dirs.length > 0 ? { createdDirs: dirs } : {}),
      },
    });
  };
  /**
   * Runs a review call (accept, reject, undo), then signs the workspace's audit log whatever its outcome, before
   * the answer: the log's appends are not synced on their own, and an answer before the seal could be followed by
   * a crash that leaves the entry unsigned or lost. Under the session lock, so an accept's work after its answer
   * (the replaced files' blocks freed, the layer saved, the journal's `done`) starts only once the seal is done:
   * beside it, that work's file-system journal commits held the seal's fsyncs back (docs/benchmarks.md).
   */
  const signed = async <T>(s: Session, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } finally {
      await sealQuietly(s.root);
    }
  };
  const session = async (sessionId: string, workspace: string): Promise<Session> => {
    if (closed)
      throw new ShadowboxError(ErrorCodes.ShuttingDown, 'shutting_down', 'the daemon is stopping', { sessionId });
    if (!SESSION_ID.test(sessionId))
      throw new ShadowboxError(
        ErrorCodes.SessionNotFound,
        'invalid_session_id',
        `not a session id: ${JSON.stringify(sessionId)}`,
        { sessionId },
      );
    const root = await realRoot(workspace);
    const key = `${root}\0${sessionId}`;
    let p = sessions.get(key);
    if (!p) {
      sessions.set(key, (p = openSession(sessionId, root)));
      p.catch(() => sessions.delete(key));
    }
    return p;
  };

  const repo = (s: Session) => {
    let p = repos.get(s.repoDir);
    if (!p) {
      repos.set(s.repoDir, (p = ensureRepo(s.repoDir)));
      p.catch(() => repos.delete(s.repoDir));
    }
    return p;
  };

  /** Points the workspace's watchers at the paths its loaded sessions' layers hold now (after a checkpoint or review call). */
  const rewatch = async (root: string): Promise<void> => {
    const ws = watchers.get(root);
    if (!ws?.size) return;
    const paths = new Set<string>();
    for (const [key, p] of sessions) {
      if (!key.startsWith(`${root}\0`)) continue;
      const s = await p.catch(() => null);
      if (s) for (const rel of Object.keys(s.store.m.entries)) paths.add(rel);
    }
    for (const w of ws) w.set(paths);
  };
  const rewatchSoon = (root: string) =>
    void rewatch(root).catch((e: unknown) =>
      deps.logger.warn(`shadow: cannot update the watch of ${root}: ${String(e)}`),
    );

  // Reads of the review state take the session lock too: an accept, reject or undo (and the layer compaction after
  // it) never runs under them, so they never see objects being dropped.
  const status = async (t: ReviewTarget): Promise<ResultOf<typeof ShadowStatus>> => {
    const s = await session(t.sessionId, t.workspace);
    return locked(s, () => statusOf(s));
  };
  const service: ShadowService = {
    async view(sessionId, workspace) {
      return (await session(sessionId, workspace)).view;
    },

    async checkpoint(sessionId, workspace, turnId, summary) {
      const s = await session(sessionId, workspace);
      await repo(s);
      const repoGc = maintenanceOf(s.repoDir);
      // Session lock, then repository lock (a repack takes only the latter): never while a checkpoint writes.
      const r = await s.lock.run(async () => {
        const c = await repoGc.lock.run(() =>
          commitCheckpoint(s.repoDir, s.store, turnId, summary, objectsOf(s.repoDir), deps.faults),
        );
        // Checkpoints keep what a rewind restores: the window is trimmed here too (sessions that never review).
        if (c) await collect(s);
        return c;
      });
      if (r) await repoGc.maybeSchedule();
      rewatchSoon(s.root);
      return r;
    },

    async rewind(t, keep, drop, label) {
      const s = await session(t.sessionId, t.workspace);
      await repo(s);
      const repoGc = maintenanceOf(s.repoDir);
      const restored = await locked(s, async () => {
        const paths = await rewindLayer(s.store, keep, drop);
        await s.store.save();
        // The log appends new checkpoints only: the rewound marks need a whole snapshot.
        await s.store.compact();
        if (paths.length > 0)
          await repoGc.lock.run(() =>
            commitCheckpoint(s.repoDir, s.store, `rewind-${Date.now()}`, label, objectsOf(s.repoDir), deps.faults),
          );
        return paths;
      });
      await deps.audit.append({
        type: 'shadow.rewind',
        workspace: s.root,
        sessionId: s.id,
        data: { keep: keep.length, drop, paths: restored },
      });
      return restored;
    },

    status,

    async pending(workspace, sessionIds) {
      const root = await realRoot(workspace);
      const wsDir = workspaceStateDir(deps.stateDir, root);
      const out: PendingCounts[] = [];
      for (const id of sessionIds) {
        const dir = path.join(wsDir, 'shadow', 'sessions', id);
        if (!SESSION_ID.test(id) || !(await stat(dir).catch(() => null))) {
          out.push({ sessionId: id, files: 0, undoable: 0, lastAcceptAt: null });
          continue;
        }
        const s = await session(id, root);
        out.push(
          await locked(s, async () => {
            const last = s.store.m.accepts.at(-1);
            const lastAcceptAt = last
              ? await s.journal.read(last).then(
                  (r) => r.time,
                  () => null,
                )
              : null;
            return {
              sessionId: id,
              files: listItems(s.store).length,
              undoable: s.store.m.accepts.length,
              lastAcceptAt,
            };
          }),
        );
      }
      return out;
    },

    async diff(t, paths) {
      const s = await session(t.sessionId, t.workspace);
      return locked(s, () => diffOf(s, paths));
    },

    async accept(t, sel, by) {
      const s = await session(t.sessionId, t.workspace);
      // Settled inside `signed`: what the settling audits is signed before the answer too, an error's included.
      return s.lock.runThen(() =>
        signed(s, async () => {
          await settle(s);
          const selected = await selectItems(s.store, sel);
          // A failure part-way (a full disk during the roll-back too) leaves a journal to settle first next time.
          s.unsettled = true;
          const r = await applyAccept(
            {
              store: s.store,
              journal: s.journal,
              git,
              writer: s.writer,
              logger: deps.logger,
              ...(deps.onAcceptStep ? { onStep: deps.onAcceptStep } : {}),
            },
            selected,
            sel.force,
            by,
          );
          s.unsettled = false;
          // The layer's save, the journal's `done`, the kept names' removal and the compaction: after the answer,
          // still under the session lock — or before the error, if the audit append below fails.
          const after = async () => {
            await r.complete();
            await collect(s);
            rewatchSoon(s.root);
          };
          try {
            await auditAccept(s, r, sel, by);
          } catch (e) {
            await after().catch((ae: unknown) =>
              deps.logger.warn(`shadow: accept ${r.acceptId}: the work after it failed (${String(ae)})`),
            );
            throw e;
          }
          // The answer needs the journal's `applied` record and the audit entry, both above.
          return {
            value: { acceptId: r.acceptId, applied: r.applied, conflicts: r.conflicts },
            finish: after,
          };
        }),
      );
    },

    async reject(t, sel, by) {
      const s = await session(t.sessionId, t.workspace);
      return s.lock.run(() =>
        signed(s, async () => {
          await settle(s);
          const rejected = await rejectSelection(s.store, await selectItems(s.store, sel));
          await s.store.save();
          await deps.audit.append({
            type: 'shadow.reject',
            workspace: s.root,
            sessionId: s.id,
            data: { by, rejected },
          });
          await collect(s);
          rewatchSoon(s.root);
          return { rejected };
        }),
      );
    },

    async undo(t, by) {
      const s = await session(t.sessionId, t.workspace);
      return s.lock.run(() =>
        signed(s, async () => {
          // An undo that a full disk interrupted in this process is finished now: that is the undo asked for
          // again, not a reason to undo the accept before it.
          const finished = (await settle(s)).find((x) => x.outcome === 'undone');
          if (finished) return { acceptId: finished.acceptId, restored: finished.paths };
          s.unsettled = true;
          const u = await applyUndo(s.store, s.journal, s.writer, deps.logger);
          s.unsettled = false;
          const r = u.record;
          const files = r.files.map((f) => ({ path: f.path, restored: digest(f.before) }));
          await deps.audit.append({
            type: 'shadow.undo',
            workspace: s.root,
            sessionId: s.id,
            data: { acceptId: r.id, by, files, ...(u.removedDirs.length > 0 ? { removedDirs: u.removedDirs } : {}) },
          });
          await collect(s);
          rewatchSoon(s.root);
          return { acceptId: r.id, restored: u.restored };
        }),
      );
    },

    async exportBranch(t, branch) {
      const s = await session(t.sessionId, t.workspace);
      await repo(s);
      const repoGc = maintenanceOf(s.repoDir);
      return locked(s, () => repoGc.lock.run(() => exportBranch(git, gitBinary, s.repoDir, s.store, branch)));
    },

    async file(t, p) {
      const s = await session(t.sessionId, t.workspace);
      return locked(s, () => fileOf(s, p));
    },

    async writeOverlayLower(t, dir, opts) {
      const s = await session(t.sessionId, t.workspace);
      // Under the session lock: no write, accept or reject changes the layer while it is copied out.
      return s.lock.run(() => writeOverlayLower(s.store, dir, opts.whiteout, opts.hide));
    },

    watch(workspace, onChange) {
      let w: PathsWatcher | undefined;
      let stopped = false;
      void (async () => {
        const root = await realRoot(workspace);
        if (stopped || closed) return;
        w = watchPaths(root, onChange, deps.logger);
        let set = watchers.get(root);
        if (!set) watchers.set(root, (set = new Set()));
        set.add(w);
        await rewatch(root);
      })().catch((e) => deps.logger.warn(`shadow: cannot watch ${workspace}: ${String(e)}`));
      return () => {
        stopped = true;
        if (!w) return;
        w.close();
        for (const set of watchers.values()) set.delete(w);
      };
    },

    async release(t) {
      const root = await realpath(path.resolve(t.workspace)).catch(() => null);
      const open = root === null ? undefined : sessions.get(`${root}\0${t.sessionId}`);
      const s = open ? await open.catch(() => null) : null;
      if (s) await s.lock.run(() => s.store.close());
    },

    async close() {
      closed = true;
      // Views refuse further calls (and the next step of a running one) at once: a stop never waits for a long call.
      await Promise.all([...sessions.values()].map((p) => p.then((s) => s.view.close()).catch(() => undefined)));
      await Promise.all([...maintenance.values()].map((m) => m.idle()));
      for (const set of watchers.values()) for (const w of set) w.close();
      watchers.clear();
      await Promise.all(
        [...sessions.values()].map((p) => p.then((s) => s.lock.run(() => s.store.close())).catch(() => undefined)),
      );
      sessions.clear();
    },
  };
  return service;
}
