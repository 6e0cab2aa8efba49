import { createHash, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, Progress, WorkspaceChanged } from '@shadowbox/protocol';
import type { Capabilities, CapabilityContext } from './daemon.js';
import { ShadowboxError } from './errors.js';
import { createAuditLog } from './audit/index.js';
import { createFetchPolicy, createGuestFetch, createNetFetch, type FetchSessionLookup } from './net/index.js';
import {
  createBundleAdapter,
  createManifestTools,
  createRunBundleTool,
  createRunWasmTool,
  createWasiRuntime,
  findWasmtime,
  type RunBundleDeps,
} from './wasi/index.js';
import { createBundleService, describeProgress, progressPercent, type BundleService } from './bundles/index.js';
import { createPolicy, type PolicyService } from './policy/index.js';
import { createModelFactory } from './providers/index.js';
import { createMcpService, createSessionMcpPool, McpServersConfig } from './mcp/index.js';
import { VERSION } from './version.js';
import { createPython } from './python/index.js';
import { createShell, type Shell } from './shell/index.js';
import type { BundlesPort, PolicyPort, ReviewPort, ToolsPort } from './server/index.js';
import { registerCapabilityHandlers } from './server/index.js';
import { createShadowService, type ReviewTarget, type ShadowService } from './shadow/index.js';
import { readAuditReferences, type SessionManager } from './sessions/index.js';
import {
  createBuiltinTools,
  createFetchTool,
  createPlanTool,
  createToolRuntime,
  findRipgrep,
  type ToolRuntime,
} from './tools/index.js';
import type { AnyTool } from './tools/index.js';
import { registerWebRoutes } from './web/index.js';
import { collectInstructions, instructionDirs, systemPrompt } from './agent/index.js';
import { envInt, loadConfig, type Logger } from './state/index.js';
import { userInstructionsFile, webFetchPort, workspaceReader } from './wiring-agent.js';

/**
 * The only place that knows every capability: builds audit, policy, shadow, providers, bundles,
 * WASI, python and the tool runtime, hands the session manager what it needs, and registers the
 * protocol handlers on small ports. Capabilities never import each other's files.
 */
export async function wireCapabilities(ctx: CapabilityContext): Promise<Capabilities> {
  const { paths, env, logger } = ctx;
  const stateDir = paths.stateDir;
  const { config, file: configFile } = await loadConfig(paths.configFile, env);
  // The sessions' event logs record the audit seq of each tool call: the audit log checks itself against them.
  const audit = createAuditLog({
    stateDir,
    logger,
    references: async (workspace) => {
      let ids: string[];
      try {
        ids = ctx
          .sessions()
          .list(workspace)
          .map((s) => s.sessionId);
      } catch {
        return []; // before the session manager exists nothing refers to the log yet
      }
      return readAuditReferences(stateDir, ids);
    },
  });
  const policy = createPolicy({ stateDir, audit, logger });
  // The shadow layer refuses writes to the policy's protected paths itself (and to paths a deny rule keeps
  // from every edit), so sandboxed code (python, bundles) cannot write what the built-in tools are denied.
  const shadow = createShadowService({
    stateDir,
    audit,
    logger,
    protectedPaths: (ws) => policy.writeProtected(ws),
  });
  // Everything in the config is checked before any process or worker starts (a refusal leaks nothing).
  // MCP servers: config.json's "mcpServers" (the Claude Desktop / Cursor shape); they run on the host, so
  // their tools ask in review mode; one that fails to start is logged and offers no tools.
  const servers = McpServersConfig.safeParse(config.mcpServers ?? {});
  if (!servers.success) {
    const issue = servers.error.issues[0];
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'config_invalid',
      `${configFile ?? 'config.json'}: mcpServers.${issue.path.join('.')}: ${issue.message}`,
      { file: configFile, path: ['mcpServers', ...issue.path.map(String)] },
    );
  }
  const maxTurns = envInt(env, 'SHADOWBOX_MAX_TURNS') || config.maxTurns || 25;
  const permissionTimeoutMs = envInt(env, 'SHADOWBOX_PERMISSION_TIMEOUT_MS') || 10 * 60_000;
  const models = createModelFactory({ env, logger, config });
  const bundles = createBundleService({
    stateDir,
    audit,
    onProgress: (e) => logger.info(`bundles: ${describeProgress(e)}`),
    ...(env.SHADOWBOX_BUNDLE_MIRROR ? { defaultMirror: env.SHADOWBOX_BUNDLE_MIRROR } : {}),
  });
  const netFetch = createNetFetch({ audit });
  const wasmtime = findWasmtime();
  if (config.wasi?.runner === 'wasmtime' && !wasmtime)
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'wasmtime_missing',
      'config.json asks for the wasmtime runner (wasi.runner) but no wasmtime binary is on PATH or in SHADOWBOX_WASMTIME',
    );
  const wasi = createWasiRuntime({ logger, audit, netFetch, wasmtimePath: wasmtime });
  const adapt = createBundleAdapter();
  // Sandboxed code's network access: every host and address is the person's policy's decision for the
  // session (the net capability asks it; see docs/security.md).
  const session: FetchSessionLookup = (id) => {
    try {
      const { meta } = ctx.sessions().get(id);
      return { workspace: meta.workspace, mode: meta.mode };
    } catch {
      return null; // no such session: its fetches are refused
    }
  };
  const fetchPolicy = createFetchPolicy({ decide: (q) => policy.decide(q), session });
  const guestFetch = createGuestFetch({ service: netFetch, policy: fetchPolicy, session });
  const runDeps: RunBundleDeps = {
    runtime: wasi,
    loadBundle: async (name) => adapt(await bundles.load(name)),
    // The manifest's netFetch list is what a bundle may ask for; the person's policy decides each request.
    fetchPolicy,
    ...(config.wasi?.runner ? { runner: config.wasi.runner } : {}),
    ...(config.wasi?.maxLimits
      ? { maxLimits: Object.fromEntries(Object.entries(config.wasi.maxLimits).filter(([, v]) => v !== undefined)) }
      : {}),
  };

  const python = createPython({
    logger,
    ...(config.python
      ? { limits: Object.fromEntries(Object.entries(config.python).filter(([, v]) => v !== undefined)) }
      : {}),
    loadBundle: async () => {
      const b = await bundles.load('python');
      return { filesDir: b.filesDir, moduleBytes: b.entry.bytes, moduleSha256: b.entry.sha256 };
    },
    netFetch: guestFetch('python'),
  });

  // Compile CPython and spawn a worker in the background, so the first python call is fast; only when the
  // bundle is here (warming an absent one would download it from a configured mirror at every start).
  const listed = bundles.list().catch((e: unknown) => {
    logger.warn(`bundles: cannot list (${(e as Error).message})`);
    return [];
  });
  void listed
    .then((bs) => (bs.some((b) => b.name === 'python') ? python.warm() : false))
    .catch((e: unknown) => logger.warn(`python warm-up: ${(e as Error).message}`));

  // The host command sandbox: probed once here (a real overlay mount and bubblewrap run); `shell` is offered
  // only where it can run. Its proxy asks the person's policy about every host, as netFetch does.
  const shellLimits = config.shell
    ? Object.fromEntries(Object.entries(config.shell).filter(([, v]) => v !== undefined))
    : undefined;
  const mcp = createMcpService({ servers: servers.data, logger, clientInfo: { name: 'shadowbox', version: VERSION } });
  const [builtBundleTools, , shell] = await Promise.all([
    bundleTools(bundles, await listed, runDeps, logger),
    mcp.start(),
    createShell({
      stateDir,
      shadow,
      authorize: (sessionId) => fetchPolicy('shell', sessionId),
      audit,
      logger,
      ...(shellLimits ? { limits: shellLimits } : {}),
      env,
    }),
  ]);
  for (const st of mcp.status())
    if (st.state === 'failed')
      logger.warn(`mcp server ${st.name} (${st.transport}) failed to start: ${st.error ?? 'unknown error'}`);

  const tools: AnyTool[] = [
    // grep searches the person's unchanged files with ripgrep when it is installed (else in process).
    ...createBuiltinTools({ rg: findRipgrep(env) }),
    createPlanTool(),
    createFetchTool(webFetchPort(netFetch, fetchPolicy)),
    createRunBundleTool(runDeps),
    createRunWasmTool({ runtime: wasi, ...(runDeps.maxLimits ? { maxLimits: runDeps.maxLimits } : {}) }),
    python.tool,
    ...(shell.tool ? [shell.tool] : []),
    ...builtBundleTools,
    ...mcp.tools(),
  ];
  const runtime = createToolRuntime({ tools, policy, audit, logger });
  // A session's own MCP servers (session/create mcpServers: an ACP editor's) add tools to that session only:
  // its runtime is the shared tools plus them, rebuilt when they change.
  const sessionMcp = createSessionMcpPool({
    logger,
    clientInfo: { name: 'shadowbox', version: VERSION },
    reservedServers: Object.keys(servers.data),
    reservedTools: tools.map((t) => t.name),
  });
  const sessionRuntimes = new WeakMap<AnyTool[], ToolRuntime>();
  const runtimeFor = (sessionId?: string): ToolRuntime => {
    const own = sessionId ? sessionMcp.tools(sessionId) : undefined;
    if (!own?.length) return runtime;
    let r = sessionRuntimes.get(own);
    if (!r) sessionRuntimes.set(own, (r = createToolRuntime({ tools: [...tools, ...own], policy, audit, logger })));
    return r;
  };

  const watched = new Map<string, () => void>();
  const watchWorkspace = (workspace: string) => {
    if (watched.has(workspace)) return;
    watched.set(
      workspace,
      shadow.watch(workspace, (changed) => {
        // Stale items of every session with pending changes there (not only the latest session's).
        const staleOf = async () => {
          const ids = ctx
            .sessions()
            .list(workspace)
            .map((s) => s.sessionId);
          const stale = new Set<string>();
          for (const c of await shadow.pending(workspace, ids)) {
            if (c.files === 0) continue;
            const t = { sessionId: c.sessionId, workspace };
            const s = await shadow.status(t);
            releaseIfIdle(shadow, ctx.sessions, t);
            for (const f of s.files) if (changed.includes(f.path)) stale.add(f.path);
          }
          return [...stale];
        };
        void staleOf()
          .catch(() => [] as string[])
          .then((stale) => {
            for (const c of ctx.clients.list())
              c.connection
                .sendNotification(WorkspaceChanged.type, { workspace, paths: changed, stale })
                .catch(() => undefined);
          });
      }),
    );
  };

  registerCapabilityHandlers(ctx.handlers, ctx.sessions, {
    review: reviewPort(shadow, shell, ctx.sessions, (ws) => audit.seal(ws)),
    tools: toolsPort(runtimeFor, ctx.sessions, shadow),
    policy: policyPort(policy),
    audit: { query: (p) => audit.query(p), verify: (ws, o) => audit.verify(ws, o) },
    bundles: bundlesPort(bundles),
  });

  return {
    providers: models.providers(),
    environment: () => models.environment(),
    wasiRunners: ['inprocess', ...(wasmtime ? ['wasmtime'] : [])],
    sandboxes: () => [
      {
        name: 'wasi',
        available: true,
        detail: `WASI preview 1 in worker threads (python, bundles, run_wasm); runners: inprocess${wasmtime ? ', wasmtime' : ''}`,
        missing: [],
      },
      { name: 'shell', available: shell.probe.available, detail: shell.detail(), missing: shell.probe.missing },
    ],
    sessionDeps: {
      // --model (per session) > SHADOWBOX_MODEL > config.json "model" > the configured provider's default.
      defaultModel: async () =>
        env.SHADOWBOX_MODEL ??
        config.model ??
        (models.providers().includes('anthropic') && !models.providers().includes('openai')
          ? 'anthropic/claude-sonnet-4-5'
          : 'openai/gpt-4o-mini'),
      defaultMode: config.mode ?? 'review',
      maxTurns,
      permissionTimeoutMs,
      system: (meta, instructions) =>
        systemPrompt({
          workspace: meta.workspace,
          mode: meta.mode,
          tools: runtimeFor(meta.sessionId).list(),
          instructions,
        }),
      // AGENTS.md / CLAUDE.md as the agent sees them (its pending edits count), plus the person's own file.
      instructions: async (meta, paths) =>
        collectInstructions({
          dirs: instructionDirs(paths),
          read: workspaceReader(() => shadow.view(meta.sessionId, meta.workspace)),
          user: userInstructionsFile(env, stateDir),
        }),
      pendingChanges: async (meta) =>
        (await shadow.status({ sessionId: meta.sessionId, workspace: meta.workspace })).files.map((f) => f.path),
      rewindShadow: (meta, keep, drop, label) =>
        shadow.rewind({ sessionId: meta.sessionId, workspace: meta.workspace }, keep, drop, label),
      createModel: (spec) => models.create(spec),
      createTools: (c) =>
        runtimeFor(c.sessionId).forSession({
          ...c,
          view: () => shadow.view(c.sessionId, c.workspace),
          ...(c.readBuffer ? { readBuffer: unlessShadowed(shadow, c, c.readBuffer) } : {}),
        }),
      onSessionOpen: (meta) => sessionMcp.open(meta.sessionId, meta.mcpServers),
      onSessionIdle: (meta) => shadow.release({ sessionId: meta.sessionId, workspace: meta.workspace }),
      // Once there is something to review, the person's versions of the changed paths are watched (for stale
      // review items): only the folders holding them, never the whole tree (shadow/watch.ts).
      // Every turn end signs the audit log, so its unsigned tail is normally empty.
      checkpoint: async (meta, turnId, summary) => {
        try {
          const cp = await shadow.checkpoint(meta.sessionId, meta.workspace, turnId, summary);
          if (cp) watchWorkspace(meta.workspace);
          return cp;
        } finally {
          await audit.seal(meta.workspace).catch((e: unknown) => logger.error(`audit seal: ${(e as Error).message}`));
        }
      },
      onSessionEvent: (meta, type, data) => {
        // Prompts are recorded by digest, length and a short preview (the audit log redacts token-shaped strings), not their text.
        const d =
          typeof data.text === 'string'
            ? {
                ...data,
                text: undefined,
                chars: data.text.length,
                preview: data.text.slice(0, 80),
                sha256: createHash('sha256').update(data.text).digest('hex'),
              }
            : data;
        void audit
          .append({ type, workspace: meta.workspace, sessionId: meta.sessionId, data: d })
          .catch((e: unknown) => logger.error(`audit: ${(e as Error).message}`));
      },
    },
    onHttp: (http) => {
      const mirror = bundles.serveMirror();
      http.addRoute((req, res) => mirror(req, res));
      registerWebRoutes(http, {
        distDir: fileURLToPath(new URL('../../clients/web/dist', import.meta.url)),
        token: ctx.token(),
        logger,
      });
    },
    close: async () => {
      for (const stop of watched.values()) stop();
      await mcp.close().catch(() => undefined);
      await sessionMcp.close().catch(() => undefined);
      shell.close();
      await python.close().catch(() => undefined);
      await wasi.close().catch(() => undefined);
      await shadow.close();
      await audit.close();
    },
  };
}

/** An editor buffer is shown only for a file the shadow has not changed (the agent's version is newer than the buffer). */
function unlessShadowed(
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
async function bundleTools(
  bundles: BundleService,
  list: Array<{ name: string; tools: string[] }>,
  deps: RunBundleDeps,
  logger: Logger,
): Promise<AnyTool[]> {
  const names = [...new Set(list.filter((b) => b.tools.length > 0 && b.name !== 'python').map((b) => b.name))];
  // Verified loads, side by side: a tool is offered only from a manifest that passed its signature check.
  const loaded = await Promise.all(
    names.map((name) =>
      bundles.load(name).then(
        (b) => createManifestTools({ name: b.name, manifest: b.manifest }, deps),
        (e: unknown) => {
          logger.warn(`bundle ${name}: tools not offered (${(e as Error).message})`);
          return [];
        },
      ),
    ),
  );
  return loaded.flat();
}

/** After a review or direct tool call on a session without a running turn, its shadow files are closed again. */
function releaseIfIdle(shadow: ShadowService, sessions: () => SessionManager, t: ReviewTarget): void {
  let running = false;
  try {
    running = sessions().get(t.sessionId).running !== null;
  } catch {
    // not a session of this daemon: shadow refused it already, or it holds nothing
  }
  if (!running) void shadow.release(t).catch(() => undefined);
}

/** Runs a shadow operation, then releases the session's files if it is idle. */
function idleAfter<T>(
  shadow: ShadowService,
  sessions: () => SessionManager,
  t: ReviewTarget,
  p: Promise<T>,
): Promise<T> {
  return p.finally(() => releaseIfIdle(shadow, sessions, t));
}

/** The review methods; accept, reject and undo each sign the workspace's audit log afterwards. */
function reviewPort(
  shadow: ShadowService,
  shell: Shell,
  sessions: () => SessionManager,
  seal: (workspace: string) => Promise<void>,
): ReviewPort {
  const after = <T>(t: ReviewTarget, p: Promise<T>) => idleAfter(shadow, sessions, t, p);
  const note = (sessionId: string, action: 'accept' | 'reject' | 'undo', paths: string[], clientId: string) => {
    try {
      sessions().get(sessionId).emit({ type: 'review', action, paths, clientId });
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
          const [st, cache] = await Promise.all([shadow.status(t), shell.ignored(t.sessionId, t.workspace)]);
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
      const r = await after(
        t,
        shadow.accept(t, sel, client.id).finally(() => seal(t.workspace).catch(() => undefined)),
      );
      note(
        t.sessionId,
        'accept',
        r.applied.map((a) => a.path),
        client.id,
      );
      return r;
    },
    reject: async (t, sel, client) => {
      const r = await after(
        t,
        shadow.reject(t, sel, client.id).finally(() => seal(t.workspace).catch(() => undefined)),
      );
      note(t.sessionId, 'reject', r.rejected, client.id);
      return r;
    },
    undo: async (t, client) => {
      const r = await after(
        t,
        shadow.undo(t, client.id).finally(() => seal(t.workspace).catch(() => undefined)),
      );
      note(t.sessionId, 'undo', r.restored, client.id);
      return r;
    },
    exportBranch: (t, b) => after(t, shadow.exportBranch(t, b)),
    file: (t, p) => after(t, shadow.file(t, p)),
  };
}

function toolsPort(
  runtimeFor: (sessionId?: string) => ToolRuntime,
  sessions: () => SessionManager,
  shadow: ShadowService,
): ToolsPort {
  return {
    // Without a session: the shared tools; with one: also its own MCP servers' (started first if the daemon restarted).
    list: async (sessionId) => {
      if (!sessionId) return { tools: runtimeFor().list() };
      await sessions().open(sessionId);
      return { tools: runtimeFor(sessionId).list() };
    },
    call: async (p, client, signal) => {
      await sessions().open(p.sessionId);
      const tools = sessions().sessionTools(p.sessionId);
      const live = sessions().get(p.sessionId);
      const callId = `direct-${randomUUID()}`;
      const turnId = `direct:${client.id}`;
      // session/cancel from any client stops a direct call too (Ctrl-C in `shadowbox exec` cancels the request).
      const cancel = new AbortController();
      const untrack = sessions().trackCall(p.sessionId, cancel);
      const token = p.progressToken;
      const onProgress = (c: { stream: 'stdout' | 'stderr'; text: string }) => {
        live.emit({ type: 'tool_output', turnId, callId, stream: c.stream, text: c.text });
        if (token !== undefined)
          client.connection
            .sendNotification(Progress.type, { token, value: { kind: 'report', message: c.text, stream: c.stream } })
            .catch(() => undefined);
      };
      try {
        const o = await idleAfter(
          shadow,
          sessions,
          { sessionId: p.sessionId, workspace: live.meta.workspace },
          tools.call({
            turnId,
            callId,
            name: p.tool,
            input: p.input,
            signal: AbortSignal.any([signal, cancel.signal]),
            onProgress,
          }),
        );
        return { callId, ...o };
      } finally {
        untrack();
      }
    },
  };
}

function policyPort(policy: PolicyService): PolicyPort {
  return { list: (ws) => policy.list(ws), set: (p, client) => policy.set(p, client.id) };
}

function bundlesPort(bundles: BundleService): BundlesPort {
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
