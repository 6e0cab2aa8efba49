// The ports the protocol handlers see (review, tools, policy, bundles), the watcher of the person's files, and
// small adapters between capabilities. Only wiring.ts uses them; they are here so the wiring reads as a list of
// what is built from what.
import { randomUUID } from 'node:crypto';
import { Progress, WorkspaceChanged } from '@shadowbox/protocol';
import { runDirectCall } from './agent/index.js';
import { describeProgress, progressPercent, type BundleService } from './bundles/index.js';
import type { PolicyService } from './policy/index.js';
import type { BundlesPort, ClientRegistry, PolicyPort, ReviewPort, ToolsPort } from './server/index.js';
import type { ReviewTarget, ShadowService } from './shadow/index.js';
import type { SessionManager } from './sessions/index.js';
import type { Shell } from './shell/index.js';
import type { AnyTool, ToolRuntime } from './tools/index.js';
import type { Logger } from './state/index.js';
import { createManifestTools, type RunBundleDeps } from './wasi/index.js';

/**
 * Once a workspace has something to review, the person's versions of the changed paths are watched (only the
 * folders holding them, shadow/watch.ts); a change marks the review items of every session with pending changes
 * there as stale and tells every client (workspace/changed).
 */
export function createWorkspaceWatcher(shadow: ShadowService, sessions: SessionManager, clients: ClientRegistry) {
  const watched = new Map<string, () => void>();
  const onChange = async (workspace: string, changed: string[]) => {
    const stale = new Set<string>();
    try {
      const ids = sessions.list(workspace).map((s) => s.sessionId);
      for (const c of await shadow.pending(workspace, ids)) {
        if (c.files === 0) continue;
        const t = { sessionId: c.sessionId, workspace };
        const s = await shadow.status(t);
        releaseIfIdle(shadow, sessions, t);
        for (const f of s.files) if (changed.includes(f.path)) stale.add(f.path);
      }
    } catch {
      stale.clear(); // stale marks are a hint: the change itself is still announced
    }
    for (const c of clients.list())
      c.connection
        .sendNotification(WorkspaceChanged.type, { workspace, paths: changed, stale: [...stale] })
        .catch(() => undefined);
  };
  return {
    watch(workspace: string): void {
      if (!watched.has(workspace))
        watched.set(
          workspace,
          shadow.watch(workspace, (changed) => void onChange(workspace, changed)),
        );
    },
    close(): void {
      for (const stop of watched.values()) stop();
      watched.clear();
    },
  };
}

/** An editor buffer is shown only for a file the shadow has not changed (the agent's version is newer than the buffer). */
export function unlessShadowed(
  shadow: ShadowService,
  t: { sessionId: string; workspace: string },
  readBuffer: (rel: string) => Promise<string | null>,
) {
  return async (rel: string): Promise<string | null> => {
    const text = await readBuffer(rel);
    if (text === null) return null;
    const f = await shadow.file(t, rel).catch(() => null);
    return f && !f.binary && f.real === f.shadow ? text : null;
  };
}

/** Tools declared by installed (or locally built) bundle manifests; a broken bundle is logged, not fatal. */
export async function bundleTools(
  bundles: Pick<BundleService, 'manifest'>,
  list: Array<{ name: string; tools: string[] }>,
  deps: RunBundleDeps,
  logger: Logger,
  /** Names the shared tools already have: a bundle tool named as one is not offered (it cannot replace it). */
  taken: ReadonlySet<string>,
): Promise<AnyTool[]> {
  const names = [...new Set(list.filter((b) => b.tools.length > 0 && b.name !== 'python').map((b) => b.name))];
  // Verified manifests, side by side: a tool is offered only from a manifest that passed its signature check.
  // Its files are checked when it runs (bundles.load).
  const loaded = await Promise.all(
    names.map((name) =>
      bundles.manifest(name).then(
        (manifest) => createManifestTools({ name: manifest.name, manifest }, deps),
        (e: unknown) => {
          logger.warn(`bundle ${name}: tools not offered (${(e as Error).message})`);
          return [];
        },
      ),
    ),
  );
  const seen = new Set(taken);
  return loaded.flat().filter((t) => {
    if (!seen.has(t.name)) return seen.add(t.name);
    logger.error(`bundle tool ${t.name} not offered: another tool has that name`);
    return false;
  });
}

/** After a review or direct tool call on a session without a running turn, its shadow files are closed again. */
export function releaseIfIdle(shadow: ShadowService, sessions: SessionManager, t: ReviewTarget): void {
  let running = false;
  try {
    running = sessions.get(t.sessionId).running !== null;
  } catch {
    // not a session of this daemon: shadow refused it already, or it holds nothing
  }
  if (!running) void shadow.release(t).catch(() => undefined);
}

/** Runs a shadow operation, then releases the session's files if it is idle. */
function idleAfter<T>(shadow: ShadowService, sessions: SessionManager, t: ReviewTarget, p: Promise<T>): Promise<T> {
  return p.finally(() => releaseIfIdle(shadow, sessions, t));
}

/** The review methods (accept, reject and undo sign the workspace's audit log before they answer: shadow/service.ts). */
export function reviewPort(shadow: ShadowService, shell: () => Promise<Shell>, sessions: SessionManager): ReviewPort {
  const after = <T>(t: ReviewTarget, p: Promise<T>) => idleAfter(shadow, sessions, t, p);
  const note = (sessionId: string, action: 'accept' | 'reject' | 'undo', paths: string[], clientId: string) => {
    try {
      sessions.get(sessionId).emit({ type: 'review', action, paths, clientId });
    } catch {
      // the session may be gone; the audit entry written by shadow still records it
    }
  };
  return {
    // Counting opens the sessions' layers: the idle ones let go of their files again afterwards.
    pending: async (ws, ids) => {
      const counts = await shadow.pending(ws, ids);
      for (const c of counts) releaseIfIdle(shadow, sessions, { sessionId: c.sessionId, workspace: ws });
      return counts;
    },
    // The build output sandboxed commands left in the session's cache: a count, and the paths when asked.
    status: (t, includeIgnored) =>
      after(
        t,
        (async () => {
          const [st, cache] = await Promise.all([
            shadow.status(t),
            shell().then((sh) => sh.ignored(t.sessionId, t.workspace)),
          ]);
          const entries = Object.entries(cache.paths);
          if (entries.length === 0) return st;
          const files = entries.reduce((n, [, v]) => n + v.files, 0);
          return {
            ...st,
            ignored: {
              files,
              ...(includeIgnored
                ? {
                    paths: entries
                      .map(([path, v]) => ({ path, change: v.change, files: v.files }))
                      .sort((a, b) => (a.path < b.path ? -1 : 1)),
                  }
                : {}),
            },
          };
        })(),
      ),
    diff: (t, p) => after(t, shadow.diff(t, p)),
    accept: async (t, sel, client) => {
      const r = await after(t, shadow.accept(t, sel, client.id));
      note(
        t.sessionId,
        'accept',
        r.applied.map((a) => a.path),
        client.id,
      );
      return r;
    },
    reject: async (t, sel, client) => {
      const r = await after(t, shadow.reject(t, sel, client.id));
      note(t.sessionId, 'reject', r.rejected, client.id);
      return r;
    },
    undo: async (t, client) => {
      const r = await after(t, shadow.undo(t, client.id));
      note(t.sessionId, 'undo', r.restored, client.id);
      return r;
    },
    exportBranch: (t, b) => after(t, shadow.exportBranch(t, b)),
    file: (t, p) => after(t, shadow.file(t, p)),
  };
}

export function toolsPort(
  runtimeFor: (sessionId?: string) => ToolRuntime,
  sessions: SessionManager,
  shadow: ShadowService,
  /** Resolves once the shared tools are all there (sessions.open waits for it too). */
  toolsReady: () => Promise<void>,
  /** Called when a direct call has ended, however it ended (IdleRelease.workEnded). */
  onCallEnded: () => void = () => undefined,
): ToolsPort {
  return {
    // Without a session: the shared tools; with one: also its own MCP servers' (started first if the daemon restarted).
    list: async (sessionId) => {
      if (!sessionId) {
        await toolsReady();
        return { tools: runtimeFor().list() };
      }
      await sessions.open(sessionId);
      return { tools: runtimeFor(sessionId).list() };
    },
    call: async (p, client, signal) => {
      await sessions.open(p.sessionId);
      const tools = sessions.sessionTools(p.sessionId);
      const live = sessions.get(p.sessionId);
      const callId = `direct-${randomUUID()}`;
      // session/cancel from any client stops a direct call too (Ctrl-C in `shadowbox exec` cancels the request).
      const cancel = new AbortController();
      const untrack = sessions.trackCall(p.sessionId, cancel);
      const token = p.progressToken;
      try {
        const o = await idleAfter(
          shadow,
          sessions,
          { sessionId: p.sessionId, workspace: live.meta.workspace },
          // Every attached client sees the call as session events (origin client), like the agent's calls.
          runDirectCall({
            tools,
            emit: (b) => live.emit(b),
            clientId: client.id,
            callId,
            tool: p.tool,
            input: p.input,
            signal: AbortSignal.any([signal, cancel.signal]),
            ...(token !== undefined
              ? {
                  onProgress: (c: { stream: 'stdout' | 'stderr'; text: string }) => {
                    client.connection
                      .sendNotification(Progress.type, {
                        token,
                        value: { kind: 'report', message: c.text, stream: c.stream },
                      })
                      .catch(() => undefined);
                  },
                }
              : {}),
          }),
        );
        return { callId, ...o };
      } finally {
        untrack();
        onCallEnded();
      }
    },
  };
}

/**
 * The shell's re-probe after a start (Shell.recheck), once `settled` has settled (a rejection counts): the re-probe
 * starts three processes (bubblewrap), and python's start work (its warm-up, or the first call that took over from
 * it) wants the two cores just as much right after ready. Beside it, the re-probe made that first python call ~10%
 * slower here (docs/benchmarks.md, run 39). Until it has run, calls use the kept probe, as they did before.
 */
export function recheckShellAfter(shell: Promise<Shell>, settled: Promise<unknown>, logger: Logger): Promise<void> {
  return Promise.all([shell, settled.catch(() => undefined)])
    .then(([sh]) => sh.recheck())
    .catch((e: unknown) => logger.warn(`shell probe: ${(e as Error).message}`));
}

export function policyPort(policy: PolicyService): PolicyPort {
  return { list: (ws) => policy.list(ws), set: (p, client) => policy.set(p, client.id) };
}

export function bundlesPort(bundles: BundleService): BundlesPort {
  return {
    list: async () => ({ bundles: await bundles.list() }),
    verify: async (p) => {
      const r = await bundles.verifyPath(p);
      return { ok: true, name: r.name, version: r.version, manifestSha256: r.manifestSha256, keyIds: r.keyIds };
    },
    install: (p, report) =>
      bundles.install(
        {
          name: p.name,
          ...(p.version ? { version: p.version } : {}),
          ...(p.mirror ? { mirror: p.mirror } : {}),
        },
        report && ((e) => report(describeProgress(e), progressPercent(e))),
      ),
    trust: (keyFile) => bundles.trustKey(keyFile),
  };
}
