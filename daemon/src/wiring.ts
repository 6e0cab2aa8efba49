import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '@shadowbox/protocol';
import type { Capabilities, CapabilityContext } from './daemon.js';
import { ShadowboxError } from './errors.js';
import { createAuditLog, sessionEventRecord } from './audit/index.js';
import { createFetchPolicy, createGuestFetch, createNetFetch, type FetchSessionLookup } from './net/index.js';
import {
  createBundleAdapter,
  createRunBundleTool,
  createRunWasmTool,
  createWasiRuntime,
  findWasmtime,
  type RunBundleDeps,
} from './wasi/index.js';
import { createBundleService, describeProgress } from './bundles/index.js';
import { createPolicy } from './policy/index.js';
import { createModelFactory } from './providers/index.js';
import { createMcpService, createSessionMcpPool, McpServersConfig } from './mcp/index.js';
import { VERSION } from './version.js';
import { createPython, pythonFilesOf, pythonModuleOf } from './python/index.js';
import { createShell, type Shell } from './shell/index.js';
import { registerCapabilityHandlers } from './server/index.js';
import { createShadowService } from './shadow/index.js';
import { createSpawner } from './spawner/index.js';
import { readAuditReferences, SessionManager } from './sessions/index.js';
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
import { createIdleRelease, envInt, loadConfig, releaseMemoryQuietly } from './state/index.js';
import { userInstructionsFile, webFetchPort, workspaceReader } from './wiring-agent.js';
import {
  bundlesPort,
  bundleTools,
  createWorkspaceWatcher,
  policyPort,
  recheckShellAfter,
  reviewPort,
  toolsPort,
  unlessShadowed,
} from './wiring-ports.js';

/**
 * The only place that knows every capability: builds audit, policy, shadow, providers, bundles,
 * WASI, python, the shell sandbox, the tool runtime and the session manager, and registers the
 * protocol handlers on small ports. Capabilities never import each other's files.
 *
 * Two capabilities built before the session manager ask it questions (audit's ledger cross-check, the
 * sandboxes' network lookups) while the manager is built from them: they ask through `manager`, set
 * once it exists (before the daemon serves anyone).
 */
export async function wireCapabilities(ctx: CapabilityContext): Promise<Capabilities> {
  const { paths, env, logger } = ctx;
  const stateDir = paths.stateDir;
  const { config, file: configFile } = await loadConfig(paths.configFile, env);
  let manager: SessionManager | undefined;
  // The sessions' event logs record the audit seq of each tool call: the audit log checks itself against them.
  const audit = createAuditLog({
    stateDir,
    logger,
    references: async (workspace) => {
      // Before the session manager exists nothing refers to the log yet.
      const ids = manager?.list(workspace).map((s) => s.sessionId) ?? [];
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
  const servers = McpServersConfig().safeParse(config.mcpServers ?? {});
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
      if (!manager) return null;
      const { meta } = manager.get(id);
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

  // python's claim as the start read it (warmPython): the warm-up's compile starts from it instead of reading the same
  // two files again; taken once, every later prepare reads the store anew.
  let startClaim: ReturnType<typeof bundles.claimedEntry> | null = null;
  const python = createPython({
    logger,
    ...(config.python
      ? { limits: Object.fromEntries(Object.entries(config.python).filter(([, v]) => v !== undefined)) }
      : {}),
    // Checked as every load is, python.wasm itself read and hashed by the worker that compiles it.
    loadBundle: async () => pythonFilesOf(await bundles.locate('python')),
    // Unchecked: the compile starts from it, its module is used only if loadBundle's checked answer agrees.
    claimBundle: async () => {
      const claim = startClaim ?? bundles.claimedEntry('python');
      startClaim = null;
      const c = await claim;
      return c && pythonModuleOf(c);
    },
    netFetch: guestFetch('python'),
  });

  // What the bundle store holds and the local build or package offers: read once the daemon serves (onReady), or
  // first by whoever needs it sooner. Reading and verifying the manifests is ~35 ms this start need not wait for.
  let listing: Promise<Array<{ name: string; installed: boolean; tools: string[] }>> | undefined;
  const listed = () =>
    (listing ??= bundles.list().catch((e: unknown) => {
      logger.warn(`bundles: cannot list (${(e as Error).message})`);
      return [];
    }));
  // Compile CPython and spawn a worker in the background once the daemon serves (onReady: hashing and compiling
  // 13 MB does not delay the first answer), so the first python call is fast; only when the bundle is here, or the
  // local build or package offers it (it is installed then: the first python call, `shadowbox demo`'s, will want
  // it). Warming an absent one would download it from a configured mirror at every start. An installed one (its
  // stored manifest is there) starts at once, not after the listing: the worker's start and the compile are what the
  // first call waits for, and they do not need the other bundles read (a call right after ready 0.8x, run 39).
  const warmPython = (): Promise<unknown> =>
    (startClaim = bundles.claimedEntry('python'))
      .then((installed) => {
        if (installed) return true;
        startClaim = null; // nothing to start from: the prepare that installs it reads the claim after
        return listed().then((bs) => bs.some((b) => b.name === 'python'));
      })
      .then((offered) => (offered ? python.warm() : false))
      // What the warm-up read, copied and ran once is garbage an idle daemon would hold on to (~30 MiB).
      // Collected only when no python call came first. The collection pauses the whole event loop for 30–65 ms
      // once (a request arriving then waits, python's or another session's).
      .then((warmed) => (warmed === 'primed' ? releaseMemoryQuietly(logger, "python's warm-up") : undefined))
      .catch((e: unknown) => logger.warn(`python warm-up: ${(e as Error).message}`));

  // Programs the daemon starts often (rg: two or more runs per grep; each shell call's bubblewrap) start from a small
  // spawner process: a fork of the daemon itself blocks its event loop for 4–30 ms, by its size. It is forked when a
  // turn starts (its first grep comes after the model's answer, by when it is up; started beside that grep, its Node
  // start made the grep ~2× slower on two cores), else once the first run that needs it has ended (it forks the daemon).
  // SHADOWBOX_SPAWNER=0: never (programs fork the daemon); =lazy: on first need only; =early: once the daemon serves.
  const spawnerMode = env.SHADOWBOX_SPAWNER ?? '';

  // The heap a burst of work grew (+22–53 MiB after 210 back-to-back turns) is given back in one memory-reducing
  // collection 30 s after the last turn or direct tool call ended, once no session is at work
  // (SHADOWBOX_IDLE_RELEASE_MS; 0: never): state/idle-release.ts.
  const idleRelease = createIdleRelease({
    delayMs: envInt(env, 'SHADOWBOX_IDLE_RELEASE_MS') ?? 30_000,
    release: () => releaseMemoryQuietly(logger, 'the sessions went quiet'),
    busy: () => sessions.busy(),
  });
  const spawner = createSpawner({ mode: spawnerMode === '0' ? 'direct' : 'process', logger });

  // The host command sandbox: its kept probe read (or, the first time, a real overlay mount and bubblewrap run) once
  // the daemon serves, or first by a request that needs it: anything that waits for the tools (below), status and
  // review (~6–10 ms the start does not wait for). `shell` is offered only where it can run. Its proxy asks the
  // person's policy about every host, as netFetch does.
  const shellLimits = config.shell
    ? Object.fromEntries(Object.entries(config.shell).filter(([, v]) => v !== undefined))
    : undefined;
  let startingShell: Promise<Shell> | undefined;
  const shellReady = () =>
    (startingShell ??= createShell({
      stateDir,
      shadow,
      authorize: (sessionId) => fetchPolicy('shell', sessionId),
      audit,
      logger,
      ...(shellLimits ? { limits: shellLimits } : {}),
      env,
      spawner,
    }));
  const mcp = createMcpService({ servers: servers.data, logger, clientInfo: { name: 'shadowbox', version: VERSION } });
  await mcp.start();
  for (const st of mcp.status())
    if (st.state === 'failed')
      logger.warn(`mcp server ${st.name} (${st.transport}) failed to start: ${st.error ?? 'unknown error'}`);

  const builtin: AnyTool[] = [
    // grep searches the person's unchanged files with ripgrep when it is installed (else in process).
    ...createBuiltinTools({ rg: findRipgrep(env), spawner }),
    createPlanTool(),
    createFetchTool(webFetchPort(netFetch, fetchPolicy)),
    createRunBundleTool(runDeps),
    createRunWasmTool({ runtime: wasi, ...(runDeps.maxLimits ? { maxLimits: runDeps.maxLimits } : {}) }),
    python.tool,
  ];
  // The shared tools: the built-in ones, the installed bundles' (once loaded) and config.json's MCP servers'.
  let tools: AnyTool[] = [...builtin, ...mcp.tools()];
  let runtime = createToolRuntime({ tools, policy, audit, logger });
  // The installed bundles' tools, from their verified manifests, after the shell sandbox (whose tool joins the
  // built-in ones): loaded once the daemon serves, or first by a request that uses tools (reading and verifying the
  // manifests is ~35 ms the start does not wait for). Every such request waits for them (toolsReady: a turn,
  // tools/list, tools/call), so none sees the tools without them.
  let loadingBundleTools: Promise<void> | undefined;
  const bundleToolsLoaded = () =>
    (loadingBundleTools ??= (async () => {
      const sh = await shellReady().catch((e: unknown) => logger.error(`shell: ${(e as Error).message}`));
      if (sh?.tool) builtin.push(sh.tool);
      const offered = await listed()
        .then((l) => bundleTools(bundles, l, runDeps, logger, new Set([...builtin, ...mcp.tools()].map((t) => t.name))))
        .catch((e: unknown) => {
          logger.error(`bundle tools: ${(e as Error).message}`);
          return [];
        });
      tools = [...builtin, ...offered, ...mcp.tools()];
      runtime = createToolRuntime({ tools, policy, audit, logger });
      sessionRuntimes = new WeakMap();
    })());
  // A session's own MCP servers (session/create mcpServers: an ACP editor's) add tools to that session only:
  // its runtime is the shared tools plus them, rebuilt when they change.
  const sessionMcp = createSessionMcpPool({
    logger,
    clientInfo: { name: 'shadowbox', version: VERSION },
    reservedServers: Object.keys(servers.data),
    // Read when a session's servers have started, after the bundle tools loaded (onSessionOpen).
    reservedTools: { [Symbol.iterator]: () => tools.map((t) => t.name)[Symbol.iterator]() },
  });
  // Per session tool set (the shared tools and its own): rebuilt once the bundle tools joined the shared ones.
  let sessionRuntimes = new WeakMap<AnyTool[], ToolRuntime>();
  const runtimeFor = (sessionId?: string): ToolRuntime => {
    const own = sessionId ? sessionMcp.tools(sessionId) : undefined;
    if (!own?.length) return runtime;
    let r = sessionRuntimes.get(own);
    if (!r) sessionRuntimes.set(own, (r = createToolRuntime({ tools: [...tools, ...own], policy, audit, logger })));
    return r;
  };

  const sessions = (manager = new SessionManager({
    stateDir,
    logger,
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
    toolsReady: bundleToolsLoaded,
    // The spawner starts while a turn's first model call is out (its tools' first program runs after the answer).
    // Not when a session opens: its Node start (~140 ms of CPU here) then shared the two cores with a direct call
    // made right after session/create (python's first call after a start 0.83× without it: benchmarks.md run 35).
    onTurnStart: () => {
      if (spawnerMode !== 'lazy') spawner.warm();
    },
    onSessionOpen: async (meta) => {
      // A session's own servers' tools are checked against every shared tool's name, the bundles' too.
      if (Object.keys(meta.mcpServers ?? {}).length > 0) await bundleToolsLoaded();
      return sessionMcp.open(meta.sessionId, meta.mcpServers);
    },
    // Called after every turn, however it ended: the end of work the quiet spell counts from.
    onSessionIdle: (meta) => {
      idleRelease.workEnded();
      return shadow.release({ sessionId: meta.sessionId, workspace: meta.workspace });
    },
    // Once there is something to review, the person's versions of the changed paths are watched (for stale
    // review items): only the folders holding them, never the whole tree (shadow/watch.ts).
    // Every turn end signs the audit log, so its unsigned tail is normally empty.
    checkpoint: async (meta, turnId, summary) => {
      try {
        const cp = await shadow.checkpoint(meta.sessionId, meta.workspace, turnId, summary);
        if (cp) watcher.watch(meta.workspace);
        return cp;
      } finally {
        await audit.seal(meta.workspace).catch((e: unknown) => logger.error(`audit seal: ${(e as Error).message}`));
      }
    },
    // What the audit log keeps of a session's events (a prompt by digest, never its text: audit/redact.ts).
    onSessionEvent: (meta, type, data) => {
      void audit
        .append({ type, workspace: meta.workspace, sessionId: meta.sessionId, data: sessionEventRecord(data) })
        .catch((e: unknown) => logger.error(`audit: ${(e as Error).message}`));
    },
  }));
  const watcher = createWorkspaceWatcher(shadow, sessions, ctx.clients);
  registerCapabilityHandlers(ctx.handlers, sessions, {
    review: reviewPort(shadow, shellReady, sessions),
    tools: toolsPort(runtimeFor, sessions, shadow, bundleToolsLoaded, () => idleRelease.workEnded()),
    policy: policyPort(policy),
    audit: { query: (p) => audit.query(p), verify: (ws, o) => audit.verify(ws, o) },
    bundles: bundlesPort(bundles),
  });

  return {
    sessions,
    providers: models.providers(),
    environment: () => models.environment(),
    wasiRunners: ['inprocess', ...(wasmtime ? ['wasmtime'] : [])],
    sandboxes: async () => [
      {
        name: 'wasi',
        available: true,
        detail: `WASI preview 1 in worker threads (python, bundles, run_wasm); runners: inprocess${wasmtime ? ', wasmtime' : ''}`,
        missing: [],
      },
      await shellReady().then(
        (sh) => ({
          name: 'shell' as const,
          available: sh.probe.available,
          detail: sh.detail(),
          missing: sh.probe.missing,
        }),
        (e: unknown) => ({
          name: 'shell' as const,
          available: false,
          detail: 'the sandbox could not be checked',
          missing: [(e as Error).message],
        }),
      ),
    ],
    // Once serving: python's warm-up, the shell sandbox (its kept probe read) and the installed bundles' tools, then,
    // once python's start work is done, that kept probe checked again.
    onReady: () => {
      if (spawnerMode === 'early') spawner.warm();
      // python's warm-up first (most of it runs in a worker): its reads go ahead of the listing's.
      const pythonDone = warmPython().then(() => python.idle());
      void recheckShellAfter(bundleToolsLoaded().then(shellReady), pythonDone, logger);
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
      idleRelease.close();
      watcher.close();
      // Shell commands are cancelled (their SIGKILL sent) before the spawner that runs them stops. A shell still being
      // set up is waited for (it has run no command, but it removes the cgroups a killed daemon left).
      (await startingShell?.catch(() => undefined))?.close();
      await spawner.close();
      await mcp.close().catch(() => undefined);
      await sessionMcp.close().catch(() => undefined);
      await python.close().catch(() => undefined);
      await wasi.close().catch(() => undefined);
      await shadow.close();
      await audit.close();
    },
  };
}
